package dev.noid.agent.guest;

import java.io.IOException;

/** The host's handle on one running command: its input, signals and terminal size. */
public final class ExecStream {
  private final GuestConnection connection;
  private final int id;
  private final StdinCredit credit;

  ExecStream(GuestConnection connection, int id, StdinCredit credit) {
    this.connection = connection;
    this.id = id;
    this.credit = credit;
  }

  /**
   * Runs {@code next} once the command may be sent more stdin: at once for a command without
   * stdin or a guest that does not pace it, else when the guest's reports leave room.
   */
  public void whenStdinRoom(Runnable next) {
    credit.whenRoom(next);
  }

  /** Whether stdin sent now would be within what the guest lets be in flight. */
  public boolean hasStdinRoom() {
    return credit.hasRoom();
  }

  public void stdin(byte[] data) throws IOException {
    credit.sent(data.length);
    for (int off = 0; off < data.length; off += 32768) {
      int n = Math.min(32768, data.length - off);
      byte[] chunk = java.util.Arrays.copyOfRange(data, off, off + n);
      connection.send(new Frame(Frame.STDIN, id, chunk));
    }
  }

  public void closeStdin() throws IOException {
    connection.send(new Frame(Frame.STDIN_CLOSE, id, new byte[0]));
  }

  public void signal(int signal) throws IOException {
    connection.sendToStream(id, Frame.signal(id, signal));
  }

  public void resize(int rows, int columns) throws IOException {
    connection.sendToStream(id, Frame.resize(id, rows, columns));
  }
}
