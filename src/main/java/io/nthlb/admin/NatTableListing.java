package io.nthlb.admin;

import io.nthlb.health.BackendHealth;
import io.nthlb.nat.NatTable;
import io.nthlb.proxy.Addresses;
import io.nthlb.rules.RulePrinter;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.function.Supplier;

/**
 * The running nat table as the rules printers print it, with its live counters: each call reads the table
 * once, so the rules and the counters printed always come from the same table, even across a reload.
 */
public final class NatTableListing implements TableListing {

    private final Supplier<NatTable> running;
    private final String generator;
    private final BackendHealth health;

    /** @param generator what {@code iptables-save}'s first line names as its author, {@code nthlb 0.1.0} */
    public NatTableListing(Supplier<NatTable> running, String generator) {
        this(running, generator, null);
    }

    /** @param health the backends' health, or {@code null} without health checks */
    public NatTableListing(Supplier<NatTable> running, String generator, BackendHealth health) {
        this.running = running;
        this.generator = generator;
        this.health = health;
    }

    @Override
    public String backends() {
        StringBuilder text = new StringBuilder(TableListing.super.backends());
        if (health == null) {
            for (InetSocketAddress backend : running.get().backends()) {
                text.append(Addresses.format(backend)).append(" unchecked - - - -\n");
            }
            return text.toString();
        }
        for (BackendHealth.Status s : health.statuses()) {
            text.append(Addresses.format(s.backend())).append(s.up() ? " up " : " down ").append(orDash(s.since()))
                    .append(' ').append(orDash(s.checkedAt())).append(' ').append(orDash(s.errorAt()))
                    .append(' ').append(orDash(s.lastError())).append('\n');
        }
        return text.toString();
    }

    @Override
    public String list(String chain, boolean exact) {
        NatTable table = running.get();
        String text = RulePrinter.list(table.ruleset(), table.counterView(), exact, chain);
        if (text == null) {
            throw new NoSuchChainException(chain);
        }
        return text;
    }

    @Override
    public String save(boolean counters) {
        NatTable table = running.get();
        return RulePrinter.save(table.ruleset(), table.counterView(), counters, generator, ZonedDateTime.now());
    }

    /** A time to the millisecond, as the logs print them, or {@code -}. */
    private static String orDash(Instant time) {
        return time == null ? "-" : time.truncatedTo(ChronoUnit.MILLIS).toString();
    }

    private static String orDash(String text) {
        return text == null ? "-" : text;
    }
}
