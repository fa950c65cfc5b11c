package io.nthlb.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/** Holds an event loop busy, so that work for it queues up, until {@code release} is counted down. */
public final class HeldLoop {

    private HeldLoop() {
    }

    /** Gives {@code loop} a task that waits for {@code release}, and returns once the loop is running it. */
    public static void holdUntil(Executor loop, CountDownLatch release) throws InterruptedException {
        CountDownLatch held = new CountDownLatch(1);
        loop.execute(() -> {
            held.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(held.await(10, TimeUnit.SECONDS)).as("the loop took the holding task").isTrue();
    }
}
