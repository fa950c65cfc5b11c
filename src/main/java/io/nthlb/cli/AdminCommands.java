package io.nthlb.cli;

import io.nthlb.admin.AdminClient;
import io.nthlb.admin.AdminUnreachableException;
import java.io.PrintWriter;
import java.util.function.Function;
import java.util.function.ToIntFunction;
import picocli.CommandLine.Model.CommandSpec;

/** What {@code list}, {@code save} and {@code reload} share: ask the admin endpoint, print its answer. */
final class AdminCommands {

    private AdminCommands() {
    }

    /** Prints a 200's body to stdout (exit 0), anything else's to stderr (exit 1). */
    static int print(CommandSpec spec, AdminClientOptions admin, Function<AdminClient, AdminClient.Response> request) {
        return run(spec, admin, request, response -> {
            boolean ok = response.status() == 200;
            PrintWriter out = ok ? spec.commandLine().getOut() : spec.commandLine().getErr();
            out.print(response.body());
            return ok ? 0 : 1;
        });
    }

    /** Sends the request and lets {@code report} print the answer; an endpoint that is not there is exit 1. */
    static int run(CommandSpec spec, AdminClientOptions admin, Function<AdminClient, AdminClient.Response> request,
                   ToIntFunction<AdminClient.Response> report) {
        try {
            return report.applyAsInt(request.apply(admin.client()));
        } catch (AdminUnreachableException e) {
            spec.commandLine().getErr().println("nthlb " + spec.name() + ": " + e.getMessage());
            return 1;
        } finally {
            spec.commandLine().getOut().flush();
            spec.commandLine().getErr().flush();
        }
    }
}
