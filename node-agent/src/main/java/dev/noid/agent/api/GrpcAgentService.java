package dev.noid.agent.api;

import dev.noid.agent.v1.AgentGrpc;

/**
 * noid.agent.v1.Agent. Calls not implemented yet answer UNIMPLEMENTED (the generated base
 * class's behaviour), never a made-up success.
 */
public final class GrpcAgentService extends AgentGrpc.AgentImplBase {
}
