package dev.noid.controller.api;

import dev.noid.api.agent.v1.NodeRegistrationGrpc;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.users.Principal;
import dev.noid.controller.users.UserDirectory;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.util.Set;

/**
 * Bearer-token authentication for the public API: the token in {@code authorization} becomes
 * a {@link Principal} in the call's Context. Health, reflection and node registration (which
 * authenticates with join tokens and certificates) do not take user tokens. Failed logins count
 * against the caller's address ({@link CallerAddress}), never against a token.
 */
public final class AuthInterceptor implements ServerInterceptor {
  /** The authenticated caller of the current call. */
  public static final Context.Key<Principal> PRINCIPAL = Context.key("noid-principal");

  /** The call's token, for a stream to check again once it is registered ({@link OpenStreams}). */
  static final Context.Key<TokenCheck> TOKEN_CHECK = Context.key("noid-token-check");

  /** The caller of the call this thread serves. */
  public static Principal caller() {
    Principal p = PRINCIPAL.get();
    if (p == null) {
      throw new IllegalStateException("no authenticated principal in this call");
    }
    return p;
  }

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Set<String> OPEN = Set.of(HealthGrpc.SERVICE_NAME,
      NodeRegistrationGrpc.SERVICE_NAME, "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection");
  /** Methods of the user service every user may call; the rest of it is admin only. */
  private static final Set<String> USER_METHODS = Set.of("noid.v1.UserService/WhoAmI",
      "noid.v1.UserService/GetQuota");

  private final UserDirectory users;

  public AuthInterceptor(UserDirectory users) {
    this.users = users;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (OPEN.contains(service)) {
      return next.startCall(call, headers);
    }
    String header = headers.get(AUTHORIZATION);
    long revocations = users.revocations();
    String token;
    Principal principal;
    try {
      if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
        throw new NoidException(NoidException.Code.UNAUTHENTICATED,
            "missing token: send 'authorization: Bearer noid_tok_...'");
      }
      token = header.substring(7).strip();
      principal = users.authenticate(token,
          CallerAddress.of(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)));
    } catch (RuntimeException e) {
      call.close(GrpcStatusMapper.toStatus(e).getStatus(), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    String method = call.getMethodDescriptor().getFullMethodName();
    boolean adminOnly = (service.equals("noid.v1.UserService") && !USER_METHODS.contains(method))
        || (service.equals("noid.v1.NodeService") && !method.endsWith("/ListNodes")
            && !method.endsWith("/GetNode") && !method.endsWith("/WatchNodes"))
        || (service.equals("noid.v1.ImageService") && (method.endsWith("/ImportImage")
            || method.endsWith("/RemoveImage")));
    if (adminOnly && !principal.admin()) {
      call.close(Status.PERMISSION_DENIED.withDescription(method + " is for admins only"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    TokenCheck check = new TokenCheck(users, token, principal, revocations);
    Context ctx = Context.current().withValue(PRINCIPAL, principal).withValue(TOKEN_CHECK, check);
    return new TokenStillHolds<>(Contexts.interceptCall(ctx, call, headers, next), call, check);
  }

  /**
   * Checks the token again as the call's request and its half-close arrive, which a client may
   * hold back for as long as it likes (a unary or server-streaming call runs at its half-close):
   * a call opened before its token was rotated, or its user removed (and the name perhaps
   * given to someone else), must not run as the old principal. Only when a rotation,
   * revocation or removal happened since the last check does this read the store. A stream
   * past its start is registered in {@link OpenStreams}, which the revocation ends.
   */
  private static final class TokenStillHolds<Q, R>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final ServerCall<Q, R> call;
    private final TokenCheck check;
    private boolean refused;

    TokenStillHolds(ServerCall.Listener<Q> delegate, ServerCall<Q, R> call, TokenCheck check) {
      super(delegate);
      this.call = call;
      this.check = check;
    }

    @Override
    public void onMessage(Q message) {
      if (holds()) {
        super.onMessage(message);
      }
    }

    @Override
    public void onHalfClose() {
      if (holds()) {
        super.onHalfClose();
      }
    }

    @Override
    public void onReady() {
      if (!refused) {
        super.onReady();
      }
    }

    private boolean holds() {
      if (refused) {
        return false;
      }
      try {
        if (check.stillHolds()) {
          return true;
        }
        call.close(Status.UNAUTHENTICATED.withDescription("the token this call was opened with"
            + " was rotated or revoked before its request arrived"), new Metadata());
      } catch (RuntimeException e) {
        call.close(GrpcStatusMapper.toStatus(e).getStatus(), new Metadata());
      }
      refused = true;
      return false;
    }
  }
}
