package dev.noid.controller.api;

import dev.noid.api.v1.NodeServiceGrpc;

/**
 * noid.v1.NodeService. Calls not implemented yet answer UNIMPLEMENTED (the generated base
 * class's behaviour), never a made-up success.
 */
public final class GrpcNodeService extends NodeServiceGrpc.NodeServiceImplBase {
}
