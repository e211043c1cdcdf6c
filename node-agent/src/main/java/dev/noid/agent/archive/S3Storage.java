package dev.noid.agent.archive;

import dev.noid.agent.vm.AgentException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An S3-compatible bucket through the AWS SDK for Java v2: AWS S3, MinIO, Ceph RGW, s3proxy.
 * The SDK's URL-connection HTTP client keeps the agent free of a second Netty and of Apache
 * HttpClient; its own retries (with backoff) cover a request's transient failures.
 */
public final class S3Storage implements ObjectStorage {
  private final S3Client s3;
  private final ArchiveSettings settings;

  S3Storage(ArchiveSettings settings) {
    this.settings = settings;
    this.s3 = client(settings);
  }

  /** A client of the bucket {@code settings} names, as the archive talks to it. */
  public static S3Client client(ArchiveSettings settings) {
    var builder = S3Client.builder()
        .httpClient(UrlConnectionHttpClient.create())
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials(settings))
        .forcePathStyle(settings.pathStyle())
        // Checksums only where S3 requires them: the SDK's default since 2.30 (trailing CRC
        // checksums in aws-chunked bodies) is refused by MinIO, Ceph RGW and s3proxy releases
        // still in use. Chunks are verified by their sha256 on every read anyway.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
    if (settings.endpoint() != null) {
      builder.endpointOverride(settings.endpoint());
    }
    return builder.build();
  }

  private static AwsCredentialsProvider credentials(ArchiveSettings settings) {
    if (settings.credentialsFile() == null) {
      return DefaultCredentialsProvider.builder().build();
    }
    return ProfileCredentialsProvider.builder()
        .profileFile(ProfileFile.builder().content(settings.credentialsFile())
            .type(ProfileFile.Type.CREDENTIALS).build())
        .profileName("default").build();
  }

  @Override
  public boolean exists(String key) {
    return lastModified(key).isPresent();
  }

  @Override
  public Optional<java.time.Instant> lastModified(String key) {
    try {
      return Optional.of(s3.headObject(b -> b.bucket(settings.bucket()).key(key)).lastModified());
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (S3Exception e) {
      if (e.statusCode() == 404) {
        return Optional.empty();
      }
      throw failed("look up " + key, e);
    } catch (SdkException e) {
      throw failed("look up " + key, e);
    }
  }

  @Override
  public void put(String key, byte[] data) {
    try {
      s3.putObject(b -> b.bucket(settings.bucket()).key(key), RequestBody.fromBytes(data));
    } catch (SdkException e) {
      throw failed("write " + key, e);
    }
  }

  @Override
  public Optional<byte[]> get(String key, int maxBytes) {
    try (ResponseInputStream<GetObjectResponse> in =
        s3.getObject(b -> b.bucket(settings.bucket()).key(key))) {
      Long length = in.response().contentLength();
      if (length != null && length > maxBytes) {
        in.abort(); // not drained: the rest of the object is never read
        throw tooLarge(key, length + " bytes", maxBytes);
      }
      // Also without a length, or with a false one: never more than the limit in memory.
      byte[] data = in.readNBytes(maxBytes + 1);
      if (data.length > maxBytes) {
        in.abort();
        throw tooLarge(key, "more than " + maxBytes + " bytes", maxBytes);
      }
      return Optional.of(data);
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (SdkException e) {
      throw failed("read " + key, e);
    } catch (java.io.IOException e) {
      throw new ArchiveUnavailable("checkpoint archive " + settings + ": cannot read " + key
          + ": " + e.getMessage(), e);
    }
  }

  private AgentException tooLarge(String key, String size, int maxBytes) {
    return new AgentException(AgentException.Code.CORRUPT, "checkpoint archive " + settings
        + ": object " + key + " is " + size + ", over the limit of " + maxBytes
        + " bytes for what is stored there; refused unread");
  }

  @Override
  public List<StoredObject> list(String prefix) {
    List<StoredObject> out = new ArrayList<>();
    try {
      for (S3Object o : s3.listObjectsV2Paginator(ListObjectsV2Request.builder()
          .bucket(settings.bucket()).prefix(prefix).build()).contents()) {
        out.add(new StoredObject(o.key(), o.size(), o.lastModified()));
      }
    } catch (SdkException e) {
      throw failed("list " + prefix, e);
    }
    return out;
  }

  @Override
  public void delete(String key) {
    try {
      s3.deleteObject(b -> b.bucket(settings.bucket()).key(key));
    } catch (SdkException e) {
      throw failed("delete " + key, e);
    }
  }

  private ArchiveUnavailable failed(String what, SdkException e) {
    return new ArchiveUnavailable("checkpoint archive " + settings + ": cannot " + what + ": "
        + e.getMessage(), e);
  }

  @Override
  public void close() {
    s3.close();
  }
}
