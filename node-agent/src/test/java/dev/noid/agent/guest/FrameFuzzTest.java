package dev.noid.agent.guest;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;

/**
 * Issue 19 fuzzing: the agent's reader of the guest protocol, fed whatever a guest could send.
 * A malformed stream may only end the connection as a protocol error (IOException), never
 * with another exception in the reader. CI replays the corpus in
 * src/test/resources/dev/noid/agent/guest/FrameFuzzTestInputs; deploy/bench/fuzz.sh fuzzes.
 */
class FrameFuzzTest {
  @FuzzTest(maxDuration = "2m")
  void framesFromAGuest(byte[] stream) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(stream))) {
      Frame f;
      while ((f = Frame.read(in)) != null) {
        switch (f.type()) {
          case Frame.EXIT -> f.exitStatus();
          case Frame.STDIN_ACK -> f.takenBytes();
          case Frame.ERROR, Frame.STDOUT, Frame.STDERR -> f.text();
          default -> { }
        }
      }
    } catch (IOException expected) {
      // a protocol error: the connection ends, which is the agent's answer to a bad guest
    }
  }
}
