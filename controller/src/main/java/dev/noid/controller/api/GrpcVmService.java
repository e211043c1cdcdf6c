package dev.noid.controller.api;

import dev.noid.api.v1.VmServiceGrpc;

/**
 * noid.v1.VmService. Calls not implemented yet answer UNIMPLEMENTED (the generated base
 * class's behaviour), never a made-up success.
 */
public final class GrpcVmService extends VmServiceGrpc.VmServiceImplBase {
}
