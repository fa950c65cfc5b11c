package io.nthlb.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ConnectionLimitsTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private long now = 1_000;

    private ConnectionLimits limits(int max, Limits perClient) {
        return new ConnectionLimits(max, perClient, () -> now);
    }

    @Test
    void slotsRunOutAtTheLimitAndComeBackWhenReleased() {
        ConnectionLimits limits = limits(2, Limits.DEFAULT);
        assertThat(limits.reserve()).isTrue();
        assertThat(limits.reserve()).isTrue();
        assertThat(limits.reserve()).isFalse();
        limits.release();
        assertThat(limits.reserve()).isTrue();
        assertThat(limits.served()).isEqualTo(2);
    }

    @Test
    void aPausedGateIsWokenByTheFirstReleaseOnly() {
        ConnectionLimits limits = limits(1, Limits.DEFAULT);
        AtomicInteger woken = new AtomicInteger();
        assertThat(limits.reserve()).isTrue();
        limits.pause(woken::incrementAndGet);
        assertThat(woken).hasValue(0);
        limits.release();
        limits.reserve();
        limits.release();
        assertThat(woken).hasValue(1);
    }

    @Test
    void aGatePausingAfterTheSlotFreedIsWokenAtOnce() {
        ConnectionLimits limits = limits(1, Limits.DEFAULT);
        AtomicInteger woken = new AtomicInteger();
        // It found no slot, and the slot freed before it paused: nothing else would wake it.
        limits.pause(woken::incrementAndGet);
        assertThat(woken).hasValue(1);
    }

    @Test
    void aConnectionAcceptedPastTheLimitGetsTheNextSlotFirst() {
        ConnectionLimits limits = limits(1, Limits.DEFAULT);
        List<String> admitted = new ArrayList<>();
        limits.reserve();
        limits.waitForSlot(() -> admitted.add("waiting"));
        assertThat(admitted).isEmpty();
        limits.release();
        assertThat(admitted).containsExactly("waiting");
        assertThat(limits.served()).as("the slot passed on, not freed").isEqualTo(1);
        assertThat(limits.reserve()).isFalse();
    }

    @Test
    void noSlotIsGivenOutForASecondAfterDescriptorsRanOut() {
        ConnectionLimits limits = limits(10, Limits.DEFAULT);
        limits.backOff();
        assertThat(limits.reserve()).isFalse();
        assertThat(limits.backOffLeft()).isEqualTo(SECOND);
        now += SECOND;
        assertThat(limits.reserve()).isTrue();
        assertThat(limits.backOffLeft()).isZero();
    }

    @Test
    void waitingConnectionsAreAdmittedWhenABackOffEnds() {
        ConnectionLimits limits = limits(10, Limits.DEFAULT);
        List<String> admitted = new ArrayList<>();
        limits.backOff();
        limits.waitForSlot(() -> admitted.add("a"));
        limits.waitForSlot(() -> admitted.add("b"));
        assertThat(admitted).isEmpty();
        now += 2 * SECOND;
        limits.admitWaiting();
        assertThat(admitted).containsExactly("a", "b");
        assertThat(limits.served()).isEqualTo(2);
    }

    @Test
    void perClientConnectionsAreCountedByAddress() throws Exception {
        ConnectionLimits limits = limits(100, Limits.DEFAULT.withMaxPerClient(2));
        InetAddress a = InetAddress.getByName("192.0.2.1");
        InetAddress b = InetAddress.getByName("192.0.2.2");
        assertThat(limits.admit(a)).isNull();
        assertThat(limits.admit(a)).isNull();
        assertThat(limits.admit(a)).isEqualTo(ClientLimit.CONNECTIONS);
        assertThat(limits.admit(b)).isNull();
        limits.clientClosed(a);
        assertThat(limits.admit(a)).isNull();
    }

    @Test
    void perClientRateAllowsSoManyNewConnectionsPerSecond() throws Exception {
        ConnectionLimits limits = limits(100, Limits.DEFAULT.withMaxRatePerClient(2));
        InetAddress a = InetAddress.getByName("192.0.2.1");
        assertThat(limits.admit(a)).isNull();
        now += SECOND / 2;
        assertThat(limits.admit(a)).isNull();
        assertThat(limits.admit(a)).isEqualTo(ClientLimit.RATE);
        now += SECOND / 2;
        assertThat(limits.admit(a)).as("a new second").isNull();
    }

    @Test
    void sweepForgetsClientsWithNothingOpenAndNoCurrentWindow() throws Exception {
        ConnectionLimits limits = limits(100, Limits.DEFAULT.withMaxRatePerClient(5));
        InetAddress a = InetAddress.getByName("192.0.2.1");
        InetAddress b = InetAddress.getByName("192.0.2.2");
        limits.admit(a);
        limits.admit(b);
        limits.clientClosed(a);
        limits.sweep();
        assertThat(limits.trackedClients()).as("a's window is still running").isEqualTo(2);
        now += SECOND;
        limits.sweep();
        assertThat(limits.trackedClients()).as("b is still open").isEqualTo(1);
        assertThat(limits.admit(a)).isNull();
    }
}
