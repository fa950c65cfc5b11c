package io.nthlb.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A logback appender that never makes the logging thread wait: lines go to a bounded queue that a thread of
 * its own writes out, and when the output does not keep up (a pipe nobody reads, a stalled disk) the lines
 * that do not fit are dropped and counted. Once the output takes lines again, a warning says how many were
 * lost. An event loop that logs can therefore never be held up by where the log goes.
 */
abstract class DroppingAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {

    /** An output that is merely slower than the traffic drops lines all the time: one warning this often. */
    private static final long WARN_EVERY_NANOS = Duration.ofSeconds(10).toNanos();

    private final Logger log = LoggerFactory.getLogger(getClass());
    private final String what;
    private final String target;
    private final Writer out;
    private final boolean closeOutput;
    private final BlockingQueue<ILoggingEvent> queue;
    private final LongAdder dropped;
    private final Thread writer;
    // The writer thread's own.
    /** Drops already reported by a warning. */
    private long reported;
    private long lastWarningNanos;
    private boolean warnedYet;
    private boolean failing;

    /**
     * @param what        the log's name in warnings ({@code access log})
     * @param target      where it goes, in warnings ({@code standard output}, a file)
     * @param closeOutput whether to close {@code out} when done (never for the process's standard streams)
     * @param dropped     where drops are counted
     */
    DroppingAppender(String what, String target, OutputStream out, boolean closeOutput, int queueLines,
                     LongAdder dropped, String threadName) {
        this.what = what;
        this.target = target;
        this.out = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 8 * 1024);
        this.closeOutput = closeOutput;
        this.queue = new ArrayBlockingQueue<>(queueLines);
        this.dropped = dropped;
        this.writer = new Thread(this::writeLines, threadName);
        writer.setDaemon(true);
    }

    /** The line for one event, with its line end. */
    abstract String format(ILoggingEvent event);

    /** Called on the logging thread before the event is queued; the writer thread formats it later. */
    void hold(ILoggingEvent event) {
    }

    @Override
    public void start() {
        super.start();
        writer.start();
    }

    /** Lines dropped so far because the output was not taking them. */
    long dropped() {
        return dropped.sum();
    }

    @Override
    protected void append(ILoggingEvent event) {
        hold(event);
        if (!queue.offer(event)) {
            dropped.increment();
        }
    }

    private void writeLines() {
        try {
            while (true) {
                ILoggingEvent event = queue.take();
                int lines = 0;
                try {
                    do {
                        out.write(format(event));
                        lines++;
                        event = queue.poll();
                    } while (event != null);
                    out.flush();
                    recovered();
                } catch (IOException e) {
                    lost(lines, e);
                }
            }
        } catch (InterruptedException e) {
            // Closing: write what is queued, then stop.
            try {
                for (ILoggingEvent event = queue.poll(); event != null; event = queue.poll()) {
                    out.write(format(event));
                }
                out.flush();
            } catch (IOException ignored) {
                // The output is gone; the lines with it.
            }
        }
    }

    /** The output took lines: say how many were dropped while it did not (at most one warning every 10 s). */
    private void recovered() {
        failing = false;
        long now = dropped.sum();
        long nanos = System.nanoTime();
        if (now > reported && (!warnedYet || nanos - lastWarningNanos >= WARN_EVERY_NANOS)) {
            warnedYet = true;
            lastWarningNanos = nanos;
            log.warn("{}: {} line(s) dropped because {} was not taking them fast enough"
                    + " (nthlb_log_lines_dropped_total counts them)", what, now - reported, target);
            reported = now;
        }
    }

    /** Writing failed (a closed pipe, a full disk): count the lines as dropped, and warn once per failure spell. */
    private void lost(int lines, IOException e) {
        dropped.add(lines);
        reported += lines;
        if (!failing) {
            failing = true;
            log.warn("{}: writing to {} failed ({}); dropping lines until it works again", what, target, e.toString());
        }
    }

    /**
     * Stops taking lines and gives the writer up to {@code wait} to write what is queued; a stuck output is not
     * waited for.
     */
    void stopWriting(Duration wait) {
        stop();
        writer.interrupt();
        try {
            writer.join(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!writer.isAlive() && closeOutput) {
            try {
                out.close();
            } catch (IOException ignored) {
                // Nothing more can be written anyway.
            }
        }
    }
}
