package dev.noid.controller.users.grpc;

import dev.noid.controller.api.AuthInterceptor;
import dev.noid.controller.api.Calls;
import dev.noid.controller.api.ProtoMapper;
import dev.noid.api.v1.AddUserRequest;
import dev.noid.api.v1.AddUserResponse;
import dev.noid.api.v1.GetQuotaRequest;
import dev.noid.api.v1.GetQuotaResponse;
import dev.noid.api.v1.ListUsersRequest;
import dev.noid.api.v1.ListUsersResponse;
import dev.noid.api.v1.RemoveUserRequest;
import dev.noid.api.v1.RemoveUserResponse;
import dev.noid.api.v1.Role;
import dev.noid.api.v1.RotateTokenRequest;
import dev.noid.api.v1.RotateTokenResponse;
import dev.noid.api.v1.SetQuotaRequest;
import dev.noid.api.v1.SetQuotaResponse;
import dev.noid.api.v1.UserServiceGrpc;
import dev.noid.api.v1.WhoAmIRequest;
import dev.noid.api.v1.WhoAmIResponse;
import dev.noid.controller.domain.NoidException;
import dev.noid.controller.quotas.Quotas;
import dev.noid.controller.quotas.Usage;
import dev.noid.controller.users.Principal;
import dev.noid.controller.vms.store.CheckpointTable;
import dev.noid.controller.users.UserDirectory;
import dev.noid.controller.vms.store.VmTable;
import dev.noid.controller.vms.service.UserRemoval;
import io.grpc.stub.StreamObserver;
import jakarta.inject.Inject;

/** noid.v1.UserService (admin only, except WhoAmI: enforced by the auth interceptor). */
public final class GrpcUserService extends UserServiceGrpc.UserServiceImplBase {
  private final UserDirectory users;
  private final VmTable vms;
  private final UserRemoval removal;
  private final Quotas quotas;
  private final CheckpointTable checkpoints;

  @Inject
  public GrpcUserService(UserDirectory users, VmTable vms, UserRemoval removal, Quotas quotas,
      CheckpointTable checkpoints) {
    this.users = users;
    this.vms = vms;
    this.removal = removal;
    this.quotas = quotas;
    this.checkpoints = checkpoints;
  }

  private Usage held(String user) {
    return vms.usageOf(user).plus(checkpoints.held(user));
  }

  private int vmCount(String user) {
    return vms.ownedBy(user).size();
  }

  @Override
  public void addUser(AddUserRequest r, StreamObserver<AddUserResponse> out) {
    Calls.unary(out, () -> {
      UserDirectory.Added added = users.add(r.getName(), role(r));
      return AddUserResponse.newBuilder().setUser(ProtoMapper.user(added.user(), 0))
          .setToken(added.token()).build();
    });
  }

  // A role this controller does not know (a newer client's narrower one) is refused, not
  // granted as a full user.
  private static String role(AddUserRequest r) {
    return switch (r.getRole()) {
      case ROLE_ADMIN -> UserDirectory.ROLE_ADMIN;
      case ROLE_USER, ROLE_UNSPECIFIED -> UserDirectory.ROLE_USER;
      default -> throw NoidException.invalid("role " + r.getRoleValue() + " is not a role this"
          + " controller knows: use ROLE_USER or ROLE_ADMIN");
    };
  }

  @Override
  public void removeUser(RemoveUserRequest r, StreamObserver<RemoveUserResponse> out) {
    Calls.unary(out, () -> {
      users.revoke(r.getName());
      removal.removeOwner(r.getName());
      users.remove(r.getName());
      quotas.forget(r.getName());
      return RemoveUserResponse.getDefaultInstance();
    });
  }

  @Override
  public void rotateToken(RotateTokenRequest r, StreamObserver<RotateTokenResponse> out) {
    Calls.unary(out, () -> RotateTokenResponse.newBuilder().setToken(users.rotate(r.getName())).build());
  }

  @Override
  public void setQuota(SetQuotaRequest r, StreamObserver<SetQuotaResponse> out) {
    Calls.unary(out, () -> {
      users.require(r.getName());
      quotas.set(r.getName(), QuotaMessages.limits(r.getQuota()));
      return SetQuotaResponse.newBuilder().setQuota(QuotaMessages.quota(quotas.limits(r.getName())))
          .setUsage(QuotaMessages.usage(held(r.getName()))).build();
    });
  }

  @Override
  public void getQuota(GetQuotaRequest r, StreamObserver<GetQuotaResponse> out) {
    Calls.unary(out, () -> {
      Principal caller = AuthInterceptor.caller();
      String name = r.getName().isEmpty() ? caller.name() : r.getName();
      if (!caller.admin() && !name.equals(caller.name())) {
        throw new NoidException(NoidException.Code.PERMISSION_DENIED,
            "only admins may read another user's quota");
      }
      users.require(name);
      return GetQuotaResponse.newBuilder().setName(name)
          .setQuota(QuotaMessages.quota(quotas.limits(name)))
          .setUsage(QuotaMessages.usage(held(name))).build();
    });
  }

  @Override
  public void listUsers(ListUsersRequest r, StreamObserver<ListUsersResponse> out) {
    Calls.unary(out, () -> {
      ListUsersResponse.Builder b = ListUsersResponse.newBuilder();
      users.list().forEach(u -> b.addUsers(ProtoMapper.user(u, vmCount(u.name()))));
      return b.build();
    });
  }

  @Override
  public void whoAmI(WhoAmIRequest r, StreamObserver<WhoAmIResponse> out) {
    Calls.unary(out, () -> {
      Principal p = AuthInterceptor.caller();
      return WhoAmIResponse.newBuilder()
          .setUser(ProtoMapper.user(users.require(p.name()), vmCount(p.name()))).build();
    });
  }
}
