package dev.noid.agent;

import picocli.CommandLine.IVersionProvider;

/** The version stamped into the jar's manifest at build time. */
public final class Version implements IVersionProvider {
  public static String current() {
    String v = Version.class.getPackage().getImplementationVersion();
    return v != null ? v : "dev";
  }

  @Override
  public String[] getVersion() {
    return new String[] {"noid-agent " + current()};
  }
}
