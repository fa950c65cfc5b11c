package io.nthlb.cli;

import io.nthlb.balancer.ReloadOutcome;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code nthlb reload}: asks a running nthlb to reread its rules file, and reports what it did. */
@Command(name = "reload", mixinStandardHelpOptions = true,
        description = {"Make the running nthlb reread its rules file (as SIGHUP does).",
                "An invalid file changes nothing: its errors are printed and the old table stays."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:reloaded", "1:not applied (a listener could not be opened, say), or no admin endpoint",
                "2:the file has errors; nothing changed"})
public final class ReloadCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    AdminClientOptions admin;

    @Override
    public Integer call() {
        return AdminCommands.run(spec, admin, client -> client.post("/reload"), response -> {
            ReloadOutcome.Status status = ReloadOutcome.Status.ofHttpStatus(response.status());
            if (status == ReloadOutcome.Status.APPLIED) {
                spec.commandLine().getOut().print(response.body());
                return 0;
            }
            spec.commandLine().getErr().print(response.body());
            return status == null ? 1 : status.exitCode();
        });
    }
}
