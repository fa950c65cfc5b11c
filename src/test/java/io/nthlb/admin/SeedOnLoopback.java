package io.nthlb.admin;

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
}
