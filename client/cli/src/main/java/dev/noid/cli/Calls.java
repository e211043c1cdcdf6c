package dev.noid.cli;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The public RPCs a command calls, as "Service/Method" (e.g. "VmService/CreateVm"). The CLI's
 * parity test checks that every RPC of every noid.v1 service is named by some command.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@interface Calls {
  String[] value();
}
