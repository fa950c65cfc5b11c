package io.nthlb.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Catches SIGTERM and SIGINT so that {@code run} can drain and exit 0 instead of the JVM's default of dying
 * with status 143 or 130. A second signal while draining exits at once, with status 1.
 *
 * <p>The JDK has no public API for signals; {@code sun.misc.Signal} (module jdk.unsupported) is the one the
 * JDK keeps for exactly this, and the admin's SIGHUP handling uses it too.
 */
final class ShutdownSignals {

    private static final Logger log = LoggerFactory.getLogger(ShutdownSignals.class);

    private final CountDownLatch received = new CountDownLatch(1);
    private final AtomicInteger count = new AtomicInteger();
    private volatile String name = "";

    /** Installs the handlers for SIGTERM and SIGINT. */
    static ShutdownSignals install() {
        ShutdownSignals signals = new ShutdownSignals();
        for (String signal : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(signal), s -> signals.received("SIG" + s.getName()));
        }
        return signals;
    }

    /** Signals that only {@link #received} raises: for running {@code run} inside a test's JVM. */
    static ShutdownSignals manual() {
        return new ShutdownSignals();
    }

    /** What a caught signal does; tests call it directly. */
    void received(String signal) {
        if (count.incrementAndGet() > 1) {
            log.warn("{} again while draining: exiting now", signal);
            Runtime.getRuntime().halt(1);
        }
        name = signal;
        received.countDown();
    }

    /** Blocks until SIGTERM or SIGINT arrives; returns its name. */
    String await() throws InterruptedException {
        received.await();
        return name;
    }
}
