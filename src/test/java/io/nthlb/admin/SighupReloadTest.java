package io.nthlb.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SighupReloadTest {

    @Test
    void sighupRunsTheReload() throws Exception {
        CountDownLatch reloaded = new CountDownLatch(1);
        SighupReload handler = SighupReload.install(() -> {
            reloaded.countDown();
            return ReloadOutcome.applied("ok");
        });
        try {
            // Sent from outside, as an operator's kill -HUP would be.
            Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(ProcessHandle.current().pid()))
                    .inheritIO().start();
            assertThat(kill.waitFor()).isZero();
            assertThat(reloaded.await(10, TimeUnit.SECONDS)).isTrue();
        } finally {
            handler.close();
        }
    }
}
