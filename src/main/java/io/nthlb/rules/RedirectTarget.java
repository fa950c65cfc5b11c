package io.nthlb.rules;

/**
 * {@code -j REDIRECT [--to-ports P1[-P2]]}: the host itself, on the given port (or the asked-for port
 * when absent).
 */
public record RedirectTarget(PortRange ports, boolean random) implements Target {
}
