package io.nthlb.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.proxy.Ending;
import io.nthlb.testing.Eventually;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Health checks against real listeners on loopback. */
class BackendHealthTest {

    private static final Duration INTERVAL = Duration.ofMillis(100);
    private BackendHealth health;

    @AfterEach
    void stop() {
        if (health != null) {
            health.close();
        }
    }

    private static ServerSocket listen(int port) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
        return s;
    }

    private BackendHealth start(int fall, int rise, InetSocketAddress... backends) {
        health = BackendHealth.start(new FailoverOptions(0, INTERVAL, fall, rise), Duration.ofSeconds(1),
                List.of(backends));
        return health;
    }

    private BackendHealth.Status status(InetSocketAddress backend) {
        return health.statuses().stream().filter(s -> s.backend().equals(backend)).findFirst().orElseThrow();
    }

    private static InetSocketAddress refusing() throws IOException {
        try (ServerSocket probe = listen(0)) {
            return (InetSocketAddress) probe.getLocalSocketAddress();
        }
    }

    @Test
    void aNeverCheckedBackendGoesDownAtItsFirstFailedCheck() throws Exception {
        InetSocketAddress backend = refusing();
        // One check now, the next in an hour: only the first can have taken it down.
        health = BackendHealth.start(new FailoverOptions(0, Duration.ofHours(1), 3, 2), Duration.ofSeconds(1),
                List.of(backend));
        Eventually.until(() -> health.isDown(backend), "down");
        assertThat(status(backend).lastError()).isEqualTo("refused (check)");
        assertThat(status(backend).since()).isEqualTo(status(backend).errorAt());
    }

    @Test
    void aDownBackendComesUpAfterRiseChecksWithinRiseIntervalsAndOneMore() throws Exception {
        InetSocketAddress backend = refusing();
        start(3, 2, backend);
        Eventually.until(() -> health.isDown(backend), "down");
        try (ServerSocket up = listen(backend.getPort())) {
            long restarted = System.nanoTime();
            Eventually.until(() -> !health.isDown(backend), "up again");
            assertThat(System.nanoTime() - restarted).as("rise x interval + interval, and scheduling slack")
                    .isLessThan(INTERVAL.multipliedBy(3).toNanos() + TimeUnit.SECONDS.toNanos(1));
            assertThat(status(backend).up()).isTrue();
        }
    }

    @Test
    void aCheckedUpBackendGoesDownAtTheFallthFailureInARowAndFailedConnectionsCount() throws Exception {
        try (ServerSocket listening = listen(0)) {
            InetSocketAddress backend = (InetSocketAddress) listening.getLocalSocketAddress();
            health = BackendHealth.start(new FailoverOptions(0, Duration.ofHours(1), 3, 2), Duration.ofSeconds(1),
                    List.of(backend));
            Eventually.until(() -> status(backend).checkedAt() != null, "first check");
            assertThat(status(backend).up()).isTrue();
            health.connectFailed(backend, Ending.REFUSED);
            health.connectFailed(backend, Ending.TIMEOUT);
            assertThat(health.isDown(backend)).as("2 failures of 3").isFalse();
            health.connectFailed(backend, Ending.UNREACHABLE);
            assertThat(health.isDown(backend)).isTrue();
            assertThat(status(backend).lastError()).isEqualTo("unreachable (connection)");
        }
    }

    @Test
    void trackingANewSetKeepsTheStateOfThoseThatRemainAndStartsTheNewOnesFresh() throws Exception {
        InetSocketAddress gone;
        try (ServerSocket probe = listen(0)) {
            gone = (InetSocketAddress) probe.getLocalSocketAddress();
        }
        try (ServerSocket listening = listen(0)) {
            InetSocketAddress other = (InetSocketAddress) listening.getLocalSocketAddress();
            start(3, 2, gone);
            Eventually.until(() -> health.isDown(gone), "down");
            BackendHealth.Status before = status(gone);
            health.track(List.of(other, gone));
            assertThat(health.statuses()).extracting(BackendHealth.Status::backend).containsExactly(other, gone);
            assertThat(status(gone).up()).isFalse();
            assertThat(status(gone).since()).isEqualTo(before.since());
            assertThat(status(other).up()).isTrue();
            health.track(List.of(other));
            assertThat(health.statuses()).extracting(BackendHealth.Status::backend).containsExactly(other);
            assertThat(health.isDown(gone)).as("no longer checked, so never down").isFalse();
        }
    }
}
