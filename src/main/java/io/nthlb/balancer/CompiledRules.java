package io.nthlb.balancer;

import io.nthlb.nat.ListenAddress;
import io.nthlb.nat.NatTable;
import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RuleError;
import io.nthlb.rules.RulesFile;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A rules file compiled into the table nthlb would run, or the reasons it cannot run it: what {@code run}
 * checks at start-up and every reload checks again, in the same words.
 *
 * @param table    the table, {@code null} when there are errors
 * @param errors   {@code FILE:LINE: message}, one per error; empty for a table
 * @param warnings what {@code check} warns about, one per line
 * @param rules    how many rules the file has (0 when it has errors)
 */
public record CompiledRules(NatTable table, List<String> errors, List<String> warnings, int rules) {

    public CompiledRules {
        errors = List.copyOf(errors);
        warnings = List.copyOf(warnings);
    }

    /** {@link #of(Path, NatTable, boolean)} for start-up: every rule starts from zero. */
    public static CompiledRules of(Path file) {
        return of(file, null, false);
    }

    /**
     * Reads and compiles {@code file}. With {@code running} (a reload), the new table takes over its
     * {@code -m recent} lists and, when {@code keepCounters}, unchanged rules keep their counters and nth
     * positions; otherwise every rule starts from zero, as with {@code iptables-restore}. Refuses errors in the
     * file, jumps that cannot be compiled, rule paths no listener can serve, and a table with nothing to listen on.
     */
    public static CompiledRules of(Path file, NatTable running, boolean keepCounters) {
        LoadResult read = RulesFile.load(file);
        List<String> warnings = messages(read.warnings());
        if (!read.ok()) {
            return rejected(messages(read.errors()), warnings);
        }
        NatTable table;
        try {
            if (running == null) {
                table = NatTable.compile(read.ruleset());
            } else {
                table = keepCounters ? NatTable.compile(read.ruleset(), running)
                        : NatTable.reloadFresh(read.ruleset(), running);
            }
        } catch (IllegalArgumentException e) {
            // NatTable names the rule (FILE:LINE: ...) that jumps nowhere or loops.
            return rejected(List.of(e.getMessage()), warnings);
        }
        if (!table.listenErrors().isEmpty()) {
            return rejected(messages(table.listenErrors()), warnings);
        }
        if (table.listenAddresses().isEmpty() && table.udpListenAddresses().isEmpty()) {
            return rejected(List.of(file + ": no PREROUTING rule DNATs or REDIRECTs TCP or UDP traffic,"
                    + " so there is nothing to listen on"), warnings);
        }
        return new CompiledRules(table, List.of(), warnings, read.ruleset().ruleCount());
    }

    /** Whether there is a table to run. */
    public boolean ok() {
        return table != null;
    }

    /** Where the table needs listeners, in the table's order. */
    public List<InetSocketAddress> listenAddresses() {
        return socketAddresses(table);
    }

    /** Where the table needs UDP listeners, in the table's order. */
    public List<InetSocketAddress> udpListenAddresses() {
        return socketAddresses(table.udpListenAddresses());
    }

    static List<InetSocketAddress> socketAddresses(NatTable table) {
        return socketAddresses(table.listenAddresses());
    }

    static List<InetSocketAddress> socketAddresses(List<ListenAddress> listen) {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (ListenAddress address : listen) {
            addresses.add(address.toSocketAddress());
        }
        return addresses;
    }

    private static CompiledRules rejected(List<String> errors, List<String> warnings) {
        return new CompiledRules(null, errors, warnings, 0);
    }

    private static List<String> messages(List<RuleError> errors) {
        List<String> messages = new ArrayList<>();
        errors.forEach(error -> messages.add(error.toString()));
        return messages;
    }
}
