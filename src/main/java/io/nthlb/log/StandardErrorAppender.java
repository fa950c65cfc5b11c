package io.nthlb.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Layout;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;

/**
 * The normal log's appender ({@code STDERR} in {@code logback.xml} and in {@link DefaultLogConfiguration}): lines
 * laid out by its layout, written to standard error by a thread of its own and dropped, counted, when standard
 * error does not take them, so that an event loop logging a warning never waits for a terminal or a pipe.
 */
public final class StandardErrorAppender extends DroppingAppender {

    /** Start-up, reloads and warnings: a burst of a few hundred lines at most. */
    private static final int QUEUE_LINES = 1024;
    /** How long the JVM's exit waits for the last lines. */
    private static final Duration EXIT_WAIT = Duration.ofSeconds(1);
    /** Shared by every instance: the process has one standard error. */
    private static final LongAdder DROPPED = new LongAdder();

    private Layout<ILoggingEvent> layout;

    public StandardErrorAppender() {
        super("log", "standard error", new FileOutputStream(FileDescriptor.err), false, QUEUE_LINES, DROPPED,
                "nthlb-log");
    }

    /** Lines of the normal log dropped so far, by every instance. */
    public static long droppedLines() {
        return DROPPED.sum();
    }

    /** Set by logback from the configuration's {@code <layout>}. */
    public void setLayout(Layout<ILoggingEvent> layout) {
        this.layout = layout;
    }

    Layout<ILoggingEvent> layout() {
        return layout;
    }

    @Override
    public void start() {
        if (layout == null) {
            addError("no <layout> for the appender named [" + name + "]");
            return;
        }
        super.start();
        // Lines still queued when the process exits are written first, as a synchronous appender's would be.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stopWriting(EXIT_WAIT), "nthlb-log-flush"));
    }

    @Override
    void hold(ILoggingEvent event) {
        // The thread name, MDC and message are taken now, on the thread that logged.
        event.prepareForDeferredProcessing();
    }

    @Override
    String format(ILoggingEvent event) {
        return layout.doLayout(event);
    }
}
