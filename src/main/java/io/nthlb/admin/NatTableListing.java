package io.nthlb.admin;

import io.nthlb.nat.NatTable;
import io.nthlb.rules.RulePrinter;
import java.time.ZonedDateTime;
import java.util.function.Supplier;

/**
 * The running nat table as the rules printers print it, with its live counters: each call reads the table
 * once, so the rules and the counters printed always come from the same table, even across a reload.
 */
public final class NatTableListing implements TableListing {

    private final Supplier<NatTable> running;
    private final String generator;

    /** @param generator what {@code iptables-save}'s first line names as its author, {@code nthlb 0.1.0} */
    public NatTableListing(Supplier<NatTable> running, String generator) {
        this.running = running;
        this.generator = generator;
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
}
