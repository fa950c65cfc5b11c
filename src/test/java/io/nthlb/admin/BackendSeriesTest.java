package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The lifetime of per-backend instruments: held by connections, removed once neither they nor the table need them. */
class BackendSeriesTest {

    private static final InetSocketAddress X = new InetSocketAddress("10.0.0.1", 80);
    private static final InetSocketAddress Y = new InetSocketAddress("10.0.0.2", 80);

    /** Instruments that record their removal, and whether anyone held them when it happened. */
    private static final class Recorded extends BackendSeries.Held {
        volatile boolean removed;
        volatile boolean removedWhileHeld;

        Recorded(InetSocketAddress backend) {
            super(backend);
        }

        @Override
        void removeSeries() {
            // A removal that takes a while, as the registry's can: a connection that holds these instruments
            // meanwhile would be caught.
            for (int i = 0; i < 20; i++) {
                removedWhileHeld |= users.get() > 0;
                Thread.yield();
            }
            removed = true;
        }
    }

    private final List<Recorded> created = new CopyOnWriteArrayList<>();
    private final BackendSeries<Recorded> series = new BackendSeries<>(backend -> {
        Recorded r = new Recorded(backend);
        created.add(r);
        return r;
    });

    @Test
    void aConnectionTheOldTableDecidedAfterTheReloadRemovesTheSeriesWhenItEnds() {
        series.routable(Y::equals);
        // The old table decided X just before the switch; its connection reports after the reload.
        Recorded late = series.hold(X);
        assertThat(late.removed).isFalse();

        series.release(late);

        assertThat(late.removed).as("no zombie: nobody else would ever remove it").isTrue();
        assertThat(series.size()).isZero();
    }

    @Test
    void aHeldBackendKeepsItsSeriesAcrossTheReloadUntilReleasedAndComesBackFresh() {
        Recorded x = series.hold(X);
        series.routable(Y::equals);
        assertThat(x.removed).isFalse();
        assertThat(series.hold(X)).isSameAs(x);
        series.release(x);
        assertThat(x.removed).isFalse();
        series.release(x);
        assertThat(x.removed).isTrue();

        Recorded again = series.hold(X);
        assertThat(again).isNotSameAs(x);
        assertThat(again.removed).isFalse();
    }

    @Test
    void aBackendTheTableStillRoutesToKeepsItsSeriesWithNoConnection() {
        series.release(series.hold(X));
        series.routable(X::equals);
        assertThat(series.size()).isEqualTo(1);
        series.routable(Y::equals);
        assertThat(series.size()).isZero();
    }

    @Test
    void concurrentConnectionsAndReloadsNeverRemoveHeldSeriesAndLeaveNoneBehind() throws Exception {
        AtomicInteger heldRemoved = new AtomicInteger();
        List<Thread> loops = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            int first = i;
            // Each thread opens and ends connections to X and, every few, reloads a table that drops X or
            // brings it back, so both happen on both threads whatever the scheduler does.
            Thread loop = new Thread(() -> {
                for (int n = 0; n < 50_000; n++) {
                    Recorded r = series.hold(X);
                    if ((n & 7) == 0) {
                        series.routable(((n >> 3) + first) % 2 == 0 ? Y::equals : X::equals);
                    }
                    if (r.removed) {
                        heldRemoved.incrementAndGet();
                    }
                    series.release(r);
                }
            });
            loops.add(loop);
            loop.start();
        }
        for (Thread loop : loops) {
            loop.join();
        }
        series.routable(Y::equals);

        assertThat(heldRemoved).hasValue(0);
        assertThat(created).hasSizeGreaterThan(1).noneMatch(r -> r.removedWhileHeld).allMatch(r -> r.removed);
        assertThat(series.size()).isZero();
    }
}
