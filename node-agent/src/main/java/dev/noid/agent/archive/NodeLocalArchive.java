package dev.noid.agent.archive;

import dev.noid.agent.vm.AgentException;

/** No archive: checkpoints live on the nodes that hold them, and go with them. */
public final class NodeLocalArchive implements CheckpointArchive {
  @Override
  public boolean durable() {
    return false;
  }

  @Override
  public String describe() {
    return "none (checkpoints stay on their nodes)";
  }

  @Override
  public Upload upload(String checkpointId) {
    throw none();
  }

  @Override
  public boolean holds(String checkpointId) {
    return false;
  }

  @Override
  public Fetch fetch(String checkpointId) {
    throw none();
  }

  @Override
  public void delete(String checkpointId) {
    // nothing was archived
  }

  private static AgentException none() {
    return new AgentException(AgentException.Code.WRONG_STATE, "this node has no checkpoint"
        + " archive: start its agent with --checkpoint-archive s3://BUCKET?endpoint=...");
  }

  @Override
  public Collection collect(java.time.Duration grace) {
    return new Collection(0, 0, 0, 0, 0, 0);
  }

  @Override
  public void close() {
  }
}
