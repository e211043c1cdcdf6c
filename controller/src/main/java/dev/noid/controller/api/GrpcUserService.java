package dev.noid.controller.api;

import dev.noid.api.v1.UserServiceGrpc;

/**
 * noid.v1.UserService. Calls not implemented yet answer UNIMPLEMENTED (the generated base
 * class's behaviour), never a made-up success.
 */
public final class GrpcUserService extends UserServiceGrpc.UserServiceImplBase {
}
