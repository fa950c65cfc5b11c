package io.nthlb.admin;

import io.nthlb.proxy.Addresses;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rereads the rules file of a running nthlb and applies it in an order that never refuses a connection a
 * listener is there for: open the listeners the new table adds, switch new connections to the new table,
 * then close the listeners it no longer needs. Connections already open keep the decision they were made
 * with and are never touched.
 *
 * <p>A file with errors changes nothing. A valid file whose listeners cannot all be opened (an address in
 * use, say) changes nothing either: the listeners this reload opened are closed again and the old table
 * stays. Reloads are serialised, whether asked for by SIGHUP or over HTTP.
 *
 * <p>The proxy's {@code ListenerSet.reconcile} opens and closes in one step; a reload needs the table switch
 * between the two (a new listener must not accept for the old table, a closing one not for the new), so
 * it takes the steps itself.
 *
 * @param <T> the compiled table (the nat workstream's {@code NatTable} in nthlb; anything in tests)
 */
public final class Reloader<T> implements ReloadAction {

    /** Reads and compiles the rules file against the running table, so unchanged rules keep their state. */
    @FunctionalInterface
    public interface Compiler<T> {
        Compiled<T> compile(T running);
    }

    /**
     * What compiling the file gave: a table, or the file's errors.
     *
     * @param table           the new table, {@code null} when there are errors
     * @param errors          {@code FILE:LINE: message}, one per error; empty for a table
     * @param listenAddresses where the new table needs listeners
     * @param summary         one line for the log and the reply: what changed in the rules
     */
    public record Compiled<T>(T table, List<String> errors, Set<InetSocketAddress> listenAddresses, String summary) {
        public Compiled {
            errors = List.copyOf(errors);
            // In the table's order, so listeners open in a predictable order.
            listenAddresses = Collections.unmodifiableSet(new LinkedHashSet<>(listenAddresses));
        }

        public static <T> Compiled<T> of(T table, Set<InetSocketAddress> listenAddresses, String summary) {
            return new Compiled<>(table, List.of(), listenAddresses, summary);
        }

        public static <T> Compiled<T> rejected(List<String> errors) {
            return new Compiled<>(null, errors, Set.of(), "");
        }
    }

    /** The listening sockets of the running nthlb, one per address, opened and closed one at a time. */
    public interface Listeners {
        /** The addresses listened on now. */
        Set<InetSocketAddress> addresses();

        /**
         * Opens a listener; on failure nothing is left open for this address.
         *
         * @throws RuntimeException whose message names the address and says why, for the user
         */
        void open(InetSocketAddress address);

        /** Closes a listener; connections it accepted go on. */
        void close(InetSocketAddress address);
    }

    private static final Logger log = LoggerFactory.getLogger(Reloader.class);

    private final String file;
    private final Compiler<T> compiler;
    private final Supplier<T> running;
    private final Consumer<T> install;
    private final Listeners listeners;
    private final Consumer<ReloadOutcome.Status> counted;

    /**
     * @param file     the rules file's name, for messages
     * @param compiler reads and compiles the file
     * @param running  the table new connections use now
     * @param install  makes a table the one new connections use
     * @param counted  told each outcome, for {@code nthlb_reloads_total}
     */
    public Reloader(String file, Compiler<T> compiler, Supplier<T> running, Consumer<T> install,
                    Listeners listeners, Consumer<ReloadOutcome.Status> counted) {
        this.file = file;
        this.compiler = compiler;
        this.running = running;
        this.install = install;
        this.listeners = listeners;
        this.counted = counted;
    }

    @Override
    public synchronized ReloadOutcome reload() {
        ReloadOutcome outcome = apply();
        counted.accept(outcome.status());
        switch (outcome.status()) {
            case APPLIED -> log.info("{}", outcome.messages().get(0));
            case REJECTED -> log.warn("reload of {} rejected, the running table stays:\n{}", file,
                    outcome.text().stripTrailing());
            case FAILED -> log.warn("reload of {} not applied, the running table stays: {}", file,
                    outcome.messages().get(0));
        }
        return outcome;
    }

    private ReloadOutcome apply() {
        Compiled<T> compiled;
        try {
            compiled = compiler.compile(running.get());
        } catch (RuntimeException e) {
            // A bug in compiling, not in the file: keep serving the old table and say so.
            log.error("compiling {} failed", file, e);
            return ReloadOutcome.failed("compiling " + file + " failed: " + e);
        }
        if (compiled.table() == null) {
            return ReloadOutcome.rejected(compiled.errors());
        }

        Set<InetSocketAddress> before = Set.copyOf(listeners.addresses());
        Set<InetSocketAddress> toOpen = new LinkedHashSet<>(compiled.listenAddresses());
        toOpen.removeAll(before);
        Set<InetSocketAddress> toClose = new LinkedHashSet<>(before);
        toClose.removeAll(compiled.listenAddresses());

        List<InetSocketAddress> opened = new ArrayList<>();
        for (InetSocketAddress address : toOpen) {
            try {
                listeners.open(address);
                opened.add(address);
            } catch (RuntimeException e) {
                opened.forEach(listeners::close);
                return ReloadOutcome.failed(e.getMessage());
            }
        }
        install.accept(compiled.table());
        toClose.forEach(listeners::close);

        StringBuilder summary = new StringBuilder("reloaded ").append(file).append(": ").append(compiled.summary());
        if (!toOpen.isEmpty()) {
            summary.append("; opened ").append(labels(toOpen));
        }
        if (!toClose.isEmpty()) {
            summary.append("; closed ").append(labels(toClose));
        }
        return ReloadOutcome.applied(summary.toString());
    }

    private static String labels(Set<InetSocketAddress> addresses) {
        List<String> labels = new ArrayList<>();
        addresses.forEach(address -> labels.add(Addresses.format(address)));
        return String.join(" ", labels);
    }
}
