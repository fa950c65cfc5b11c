package io.nthlb.cli;

import io.nthlb.admin.AdminAddress;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The admin endpoint's options of {@code nthlb run}, as a picocli mixin: {@code --admin}, {@code --admin-allow-remote}. */
public final class AdminOptions {

    /** The value of {@code --admin} that turns the endpoint off. */
    public static final String OFF = "off";

    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--admin", paramLabel = "HOST:PORT|off", defaultValue = AdminAddress.DEFAULT,
            description = "where the admin endpoint (/rules, /save, /backends, /metrics, /healthz, /reload) listens, or off"
                    + " (default: ${DEFAULT-VALUE})")
    String admin = AdminAddress.DEFAULT;

    @Option(names = "--admin-allow-remote",
            description = "let --admin name a non-loopback address (the endpoint has no authentication)")
    boolean allowRemote;

    /**
     * The address to listen on, or {@code null} for {@code --admin off}.
     *
     * @throws CommandLine.ParameterException for a malformed address, or a non-loopback one without
     *                                        {@code --admin-allow-remote}; call it before opening anything else
     */
    public AdminAddress address() {
        if (admin.equals(OFF)) {
            return null;
        }
        try {
            return AdminAddress.parse(admin).requireListenable(allowRemote);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(mixee.commandLine(), "--admin: " + e.getMessage());
        }
    }

    /** Whether {@code --admin-allow-remote} was given. */
    public boolean allowRemote() {
        return allowRemote;
    }
}
