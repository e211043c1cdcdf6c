package dev.noid.agent.archive;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3 API server for tests (issue 23): s3proxy over a directory, on loopback, with AWS
 * signatures checked against one key pair, and one bucket made.
 */
public final class S3Server implements AutoCloseable {
  public static final String ACCESS_KEY = "noid-test-access";
  public static final String SECRET_KEY = "noid-test-secret-key";
  public static final String BUCKET = "noid-checkpoints";

  private final S3Proxy proxy;
  private final BlobStoreContext context;
  private final Path credentials;

  private S3Server(S3Proxy proxy, BlobStoreContext context, Path credentials) {
    this.proxy = proxy;
    this.context = context;
    this.credentials = credentials;
  }

  public static S3Server start(Path dir) throws Exception {
    return start(dir, 0, true);
  }

  /** The same server again, on {@code port}, over the data it had: its bucket is there. */
  public static S3Server restart(Path dir, int port) throws Exception {
    return start(dir, port, false);
  }

  private static S3Server start(Path dir, int port, boolean makeBucket) throws Exception {
    Path data = Files.createDirectories(dir.resolve("s3-data"));
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", data.toString());
    BlobStoreContext context = ContextBuilder.newBuilder("filesystem").overrides(props)
        .build(BlobStoreContext.class);
    S3Proxy proxy = S3Proxy.builder().blobStore(context.getBlobStore())
        .endpoint(URI.create("http://127.0.0.1:" + port))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    proxy.start();
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
        .until(() -> "STARTED".equals(proxy.getState()));
    Path credentials = dir.resolve("s3-credentials");
    Files.writeString(credentials, "[default]\naws_access_key_id = " + ACCESS_KEY
        + "\naws_secret_access_key = " + SECRET_KEY + "\n");
    S3Server server = new S3Server(proxy, context, credentials);
    if (makeBucket) {
      try (S3Client s3 = server.client()) {
        s3.createBucket(b -> b.bucket(BUCKET));
      }
    }
    return server;
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getPort());
  }

  /** The archive URL an agent is given for this server's bucket. */
  public String archiveUrl(String prefix) {
    return "s3://" + BUCKET + (prefix.isEmpty() ? "" : "/" + prefix) + "?endpoint="
        + endpoint() + "&path_style=true";
  }

  public Path credentialsFile() {
    return credentials;
  }

  public ArchiveSettings settings(String prefix) {
    return ArchiveSettings.parse(archiveUrl(prefix), credentials);
  }

  /** A plain client of the bucket, to look under the archive. */
  public S3Client client() {
    return S3Storage.client(settings(""));
  }

  public void stop() throws Exception {
    proxy.stop();
  }

  @Override
  public void close() throws Exception {
    proxy.stop();
    context.close();
  }
}
