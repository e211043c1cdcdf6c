package dev.noid.controller.scale.hollow;

import com.google.protobuf.ByteString;
import dev.noid.api.agent.v1.CheckpointChunk;
import dev.noid.api.agent.v1.CheckpointFile;
import dev.noid.api.agent.v1.CheckpointInfo;
import dev.noid.api.agent.v1.CheckpointManifest;
import dev.noid.api.agent.v1.FileChunk;
import dev.noid.api.agent.v1.ImportCheckpointResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A hollow checkpoint as files, for ExportCheckpoint and ImportCheckpoint: one file, "state",
 * holding the checkpoint's record, sent as the real agent sends files (a manifest with each
 * file's size and sha256, then chunks with the sha256 of their data) and checked on import as
 * the real agent checks them, so moving a checkpoint between hollow nodes goes through the
 * controller's real relay.
 */
final class HollowCheckpointFiles {
  static final String STATE = "state";

  private HollowCheckpointFiles() {}

  static List<CheckpointChunk> export(CheckpointInfo info) {
    ByteString data = info.toByteString();
    String sha = sha256(data);
    return List.of(
        CheckpointChunk.newBuilder().setManifest(CheckpointManifest.newBuilder().setCheckpoint(info)
            .addFiles(CheckpointFile.newBuilder().setPath(STATE).setSizeBytes(data.size()).setSha256(sha)))
            .build(),
        CheckpointChunk.newBuilder().setChunk(FileChunk.newBuilder().setPath(STATE).setOffsetBytes(0)
            .setData(data).setSha256(sha)).build());
  }

  /** Receives an import on {@code node}, answering on {@code out} once every file is whole. */
  static StreamObserver<CheckpointChunk> receive(HollowNode node, Faults faults,
      StreamObserver<ImportCheckpointResponse> out) {
    return new StreamObserver<>() {
      private CheckpointManifest manifest;
      private final Map<String, ByteString> received = new LinkedHashMap<>();
      private boolean ended;

      @Override
      public void onNext(CheckpointChunk message) {
        if (ended) {
          return;
        }
        switch (message.getMessageCase()) {
          case MANIFEST -> {
            if (manifest != null) {
              fail(Status.INVALID_ARGUMENT, "a second manifest: only the first message may be one");
            } else if (!message.getManifest().hasCheckpoint()) {
              fail(Status.INVALID_ARGUMENT, "manifest.checkpoint is required");
            } else {
              try {
                node.beginImport(message.getManifest().getCheckpoint().getId());
              } catch (HollowNode.Refused e) {
                ended = true;
                out.onError(e.status().asRuntimeException());
                return;
              }
              manifest = message.getManifest();
              manifest.getFilesList().forEach(f -> received.put(f.getPath(), ByteString.EMPTY));
            }
          }
          case CHUNK -> chunk(message.getChunk());
          default -> fail(Status.INVALID_ARGUMENT, "empty message: each must carry a manifest or a chunk");
        }
      }

      private void chunk(FileChunk chunk) {
        if (manifest == null) {
          fail(Status.INVALID_ARGUMENT, "a chunk before the manifest: the first message must be the manifest");
          return;
        }
        ByteString sofar = received.get(chunk.getPath());
        String where = "chunk of '" + chunk.getPath() + "' at offset " + chunk.getOffsetBytes();
        if (sofar == null) {
          fail(Status.INVALID_ARGUMENT, where + ": the manifest lists no such file");
        } else if (chunk.getOffsetBytes() != sofar.size()) {
          fail(Status.INVALID_ARGUMENT, where + ": expected offset " + sofar.size());
        } else if (!sha256(chunk.getData()).equals(chunk.getSha256())) {
          fail(Status.DATA_LOSS, where + ": sha256 of the data differs from the chunk's");
        } else {
          received.put(chunk.getPath(), sofar.concat(chunk.getData()));
        }
      }

      @Override
      public void onError(Throwable t) {
        ended = true; // the sender went away: nothing was kept
        abandon();
      }

      @Override
      public void onCompleted() {
        if (ended) {
          return;
        }
        if (manifest == null) {
          fail(Status.INVALID_ARGUMENT, "the stream ended before the manifest");
          return;
        }
        for (CheckpointFile f : manifest.getFilesList()) {
          ByteString data = received.get(f.getPath());
          if (data.size() != f.getSizeBytes() || !sha256(data).equals(f.getSha256())) {
            fail(Status.DATA_LOSS, "file '" + f.getPath() + "' arrived as " + data.size()
                + " bytes with another sha256 than the manifest's " + f.getSizeBytes() + " bytes");
            return;
          }
        }
        faults.beforeImportPublished();
        node.importCheckpoint(manifest.getCheckpoint());
        ended = true;
        Status lost = faults.importAnswerLost();
        if (lost != null) {
          out.onError(lost.asRuntimeException());
          return;
        }
        out.onNext(ImportCheckpointResponse.newBuilder().setCheckpoint(manifest.getCheckpoint()).build());
        out.onCompleted();
      }

      private void abandon() {
        if (manifest != null) {
          node.abandonImport(manifest.getCheckpoint().getId());
        }
      }

      private void fail(Status status, String why) {
        abandon();
        ended = true;
        out.onError(status.withDescription(why).asRuntimeException());
      }
    };
  }

  static String sha256(ByteString data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data.toByteArray()));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
