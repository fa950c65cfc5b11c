package io.nthlb.admin;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Reloads the rules file on SIGHUP, as daemons do; {@link #close()} puts the previous handler back.
 *
 * <p>The JDK has no public API for signals, so this uses {@code sun.misc.Signal} (module
 * {@code jdk.unsupported}); javac warns that it is internal proprietary API, and that warning cannot be
 * suppressed. The handler runs on a thread the JVM starts for each signal, so a slow reload never delays
 * other signals, and {@code LoadBalancer.reload} serialises it with reloads asked for over HTTP.
 */
public final class SighupReload implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SighupReload.class);
    private static final Signal HUP = new Signal("HUP");

    private final SignalHandler previous;

    private SighupReload(SignalHandler previous) {
        this.previous = previous;
    }

    /**
     * Installs the handler.
     *
     * @throws IllegalArgumentException where the platform has no SIGHUP, or the JVM reserves it
     *                                  (as it does under {@code -Xrs})
     */
    public static SighupReload install(ReloadAction reload) {
        SignalHandler previous = Signal.handle(HUP, signal -> {
            log.info("SIGHUP: rereading the rules file");
            reload.reload();
        });
        if (previous == SignalHandler.SIG_IGN) {
            // The JVM leaves a signal that the process was started with ignored alone (nohup does that to
            // SIGHUP), and our handler never runs: say so, rather than let a kill -HUP do nothing silently.
            log.warn("SIGHUP is ignored by this process (started under nohup?), so it cannot reload the rules; "
                    + "use `nthlb reload` or POST /reload on the admin endpoint");
        }
        return new SighupReload(previous);
    }

    @Override
    public void close() {
        Signal.handle(HUP, previous);
    }
}
