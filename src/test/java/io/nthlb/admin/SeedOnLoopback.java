package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.testing.Eventually;
import io.nthlb.testing.FreePort;
import io.nthlb.testing.LoopbackBackend;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixture of tests against a whole nthlb: the seed on loopback, started before each test and stopped
 * after it. Echo backends A and B (each answers with its name first), a free VIP port, and nthlb running the
 * seed's cascade over them.
 */
abstract class SeedOnLoopback {

    @TempDir
    Path dir;
    LoopbackBackend a;
    LoopbackBackend b;
    int vipPort;
    RunningNthlb nthlb;

    @BeforeEach
    void startSeed() throws IOException {
        a = LoopbackBackend.echo("A");
        b = LoopbackBackend.echo("B");
        vipPort = FreePort.onLoopback();
        nthlb = new RunningNthlb(dir, new SeedRules().vip(vipPort, a.address(), b.address()).text());
    }

    @AfterEach
    void stopSeed() throws IOException {
        if (nthlb != null) {
            nthlb.close();
        }
        a.close();
        b.close();
    }

    /** {@code GET /metrics}, parsed. */
    PrometheusText scrape() {
        AdminClient.Response response = nthlb.client().get("/metrics");
        assertThat(response.status()).isEqualTo(200);
        return PrometheusText.parse(response.body());
    }

    /** Scrapes until the sample has the value: the relay reports an ending after the client has seen it. */
    PrometheusText awaitSample(String key, double value) {
        PrometheusText metrics = Eventually.await(this::scrape, m -> Double.valueOf(value).equals(m.sample(key)));
        assertThat(metrics.sample(key)).isEqualTo(value);
        return metrics;
    }
}
