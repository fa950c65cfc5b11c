package io.nthlb.admin;

import io.nthlb.proxy.Addresses;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The reload orchestration, with the table as a plain string and listeners as a set that logs each change. */
class ReloaderTest {

    private static final InetSocketAddress A = new InetSocketAddress("127.0.0.1", 8080);
    private static final InetSocketAddress B = new InetSocketAddress("127.0.0.1", 8081);
    private static final InetSocketAddress C = new InetSocketAddress("127.0.0.1", 8082);

    private final List<String> events = new ArrayList<>();
    private final AtomicReference<String> table = new AtomicReference<>("v1");
    private final List<ReloadOutcome.Status> counted = new ArrayList<>();
    private final RecordingListeners listeners = new RecordingListeners();
    private Reloader.Compiled<String> next;

    private final Reloader<String> reloader = new Reloader<>("r.rules", running -> {
        events.add("compile against " + running);
        return next;
    }, table::get, t -> {
        events.add("install " + t);
        table.set(t);
    }, listeners, counted::add);

    @Test
    void opensNewListenersBeforeSwitchingAndClosesOldOnesAfter() {
        listeners.addresses.addAll(Set.of(A, B));
        next = Reloader.Compiled.of("v2", Set.of(B, C), "2 rules, 1 kept");

        ReloadOutcome outcome = reloader.reload();

        assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.APPLIED);
        assertThat(outcome.messages()).containsExactly(
                "reloaded r.rules: 2 rules, 1 kept; opened 127.0.0.1:8082; closed 127.0.0.1:8080");
        assertThat(events).containsExactly("compile against v1", "open 127.0.0.1:8082", "install v2",
                "close 127.0.0.1:8080");
        assertThat(table).hasValue("v2");
        assertThat(listeners.addresses).containsExactlyInAnyOrder(B, C);
        assertThat(counted).containsExactly(ReloadOutcome.Status.APPLIED);
    }

    @Test
    void unchangedListenersAreLeftAlone() {
        listeners.addresses.add(A);
        next = Reloader.Compiled.of("v2", Set.of(A), "1 rule");

        assertThat(reloader.reload().messages()).containsExactly("reloaded r.rules: 1 rule");
        assertThat(events).containsExactly("compile against v1", "install v2");
    }

    @Test
    void aFileWithErrorsChangesNothingAndReturnsTheErrors() {
        listeners.addresses.add(A);
        next = Reloader.Compiled.rejected(List.of("r.rules:3: Bad mode \"nope\""));

        ReloadOutcome outcome = reloader.reload();

        assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.REJECTED);
        assertThat(outcome.text()).isEqualTo("r.rules:3: Bad mode \"nope\"\n");
        assertThat(events).containsExactly("compile against v1");
        assertThat(table).hasValue("v1");
        assertThat(listeners.addresses).containsExactly(A);
        assertThat(counted).containsExactly(ReloadOutcome.Status.REJECTED);
    }

    @Test
    void aListenerThatCannotOpenUndoesTheOnesOpenedAndKeepsTheOldTable() {
        listeners.addresses.add(A);
        listeners.failing = C;
        next = new Reloader.Compiled<>("v2", List.of(), new LinkedHashSet<>(List.of(A, B, C)), "3 rules");

        ReloadOutcome outcome = reloader.reload();

        assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.FAILED);
        assertThat(outcome.messages()).containsExactly("cannot listen on 127.0.0.1:8082: Address already in use");
        assertThat(table).hasValue("v1");
        assertThat(listeners.addresses).containsExactly(A);
        assertThat(events).doesNotContain("install v2").contains("close 127.0.0.1:8081");
        assertThat(counted).containsExactly(ReloadOutcome.Status.FAILED);
    }

    @Test
    void aCompilerBugIsAFailureNotACrash() {
        Reloader<String> broken = new Reloader<>("r.rules", running -> {
            throw new IllegalStateException("boom");
        }, table::get, table::set, listeners, counted::add);

        ReloadOutcome outcome = broken.reload();

        assertThat(outcome.status()).isEqualTo(ReloadOutcome.Status.FAILED);
        assertThat(outcome.messages().get(0)).contains("boom");
        assertThat(table).hasValue("v1");
    }

    /** Listeners as a set; {@link #failing} cannot be opened, as if something else held its port. */
    private final class RecordingListeners implements Reloader.Listeners {
        final Set<InetSocketAddress> addresses = new LinkedHashSet<>();
        InetSocketAddress failing;

        @Override
        public Set<InetSocketAddress> addresses() {
            return addresses;
        }

        @Override
        public void open(InetSocketAddress address) {
            if (address.equals(failing)) {
                throw new IllegalStateException("cannot listen on " + Addresses.format(address)
                        + ": Address already in use");
            }
            events.add("open " + Addresses.format(address));
            addresses.add(address);
        }

        @Override
        public void close(InetSocketAddress address) {
            events.add("close " + Addresses.format(address));
            addresses.remove(address);
        }
    }
}
