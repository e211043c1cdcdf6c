package dev.noid.controller.scale;

import static org.assertj.core.api.Assertions.assertThat;

import dev.noid.controller.ControllerMain;
import dev.noid.controller.scale.hollow.HollowFleet;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Hollow agents, the simulated hypervisor, the load generator and JMH are benchmark code: no
 * configuration can select them in production because the shipped controller does not contain
 * them. Checked on the compiled main classes and on the shaded jar operators run.
 */
class ProductionJarIT {
  private static final List<String> FORBIDDEN = List.of("dev/noid/controller/scale/", "Hollow",
      "SimulatedHypervisor", "org/openjdk/jmh/", "dev/noid/client/NoidClient");

  @Test
  void productionClassesOnTheClasspathHoldNoBenchmarkCode() throws IOException, URISyntaxException {
    // Under failsafe this is the packaged jar; in an IDE, target/classes.
    Path main = Path.of(ControllerMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path test = Path.of(HollowFleet.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    assertThat(main).isNotEqualTo(test);
    assertThat(entries(main)).contains("dev/noid/controller/ControllerMain.class")
        .noneMatch(ProductionJarIT::forbidden);
  }

  @Test
  void shadedJarHoldsNoBenchmarkCode() throws IOException {
    Path jar = Path.of(System.getProperty("noid.controller.jar", "target/noid-controller.jar"));
    assertThat(jar).exists();
    assertThat(entries(jar)).contains("dev/noid/controller/ControllerMain.class")
        .noneMatch(ProductionJarIT::forbidden);
  }

  private static List<String> entries(Path classes) throws IOException {
    if (Files.isDirectory(classes)) {
      try (Stream<Path> files = Files.walk(classes)) {
        return files.map(p -> classes.relativize(p).toString()).toList();
      }
    }
    try (JarFile file = new JarFile(classes.toFile())) {
      return file.stream().map(e -> e.getName()).toList();
    }
  }

  private static boolean forbidden(String name) {
    return FORBIDDEN.stream().anyMatch(name::contains);
  }
}
