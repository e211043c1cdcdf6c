package dev.noid.cli.daemon;

import dev.noid.cli.launch.Frames;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** Bytes of one of a request's streams, sent to the client as frames of that stream's type. */
final class FrameOutput extends OutputStream {
  private final DataOutputStream socket;
  private final byte type;

  FrameOutput(DataOutputStream socket, byte type) {
    this.socket = socket;
    this.type = type;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    if (len > 0) {
      Frames.frame(socket, type, b, off, len);
    }
  }
}
