package io.nthlb.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.LoggerFactory;

/**
 * The per-connection access log of {@code run --access-log}: the lines the data plane gives the
 * {@value #LOGGER} logger, written to a file or standard output by a thread of its own.
 *
 * <p>An event loop only ever offers a line to a bounded queue. When the output does not keep up (a pipe nobody
 * reads, a stalled disk), the queue fills and further lines are dropped and counted ({@link #dropped()},
 * exposed as {@code nthlb_log_lines_dropped_total}), never waited for: a stuck log costs log lines, not
 * connections. Once the output takes lines again, a warning on the normal log says how many were lost.
 */
public final class AccessLog extends DroppingAppender implements AutoCloseable {

    /** The logger the data plane writes one line per connection to. */
    public static final String LOGGER = "nthlb.access";
    /** The value of {@code --access-log} that means standard output. */
    public static final String STDOUT = "-";
    /** The value of {@code --access-log} that turns it off, the default. */
    public static final String OFF = "off";

    /** Lines held while the output is slow: a few seconds of a busy balancer, a few MB at most. */
    static final int QUEUE_LINES = 8192;

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

    private final ZoneId zone = ZoneId.systemDefault();
    private final Logger logger;
    private final Level previousLevel;
    private final boolean previousAdditive;
    /** The logger's appenders from the logging configuration, set aside while this one writes its lines. */
    private final List<Appender<ILoggingEvent>> configured = new ArrayList<>();

    private AccessLog(String target, OutputStream out, boolean closeOutput, int queueLines) {
        super("access log", target, out, closeOutput, queueLines, new LongAdder(), "nthlb-access-log");
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        this.logger = context.getLogger(LOGGER);
        this.previousLevel = logger.getLevel();
        this.previousAdditive = logger.isAdditive();
        setContext(context);
        setName("nthlb-access-log");
    }

    /**
     * Opens the access log at {@code target} ({@value #STDOUT} for standard output, else a file appended to)
     * and routes the {@value #LOGGER} logger to it, and only to it (appenders a logging configuration gave the
     * logger are set aside until {@link #close}); or, for {@value #OFF}, silences the logger
     * and returns {@code null}.
     *
     * @throws IOException when the file cannot be opened for appending
     */
    public static AccessLog open(String target) throws IOException {
        if (target.equals(OFF)) {
            off();
            return null;
        }
        if (target.equals(STDOUT)) {
            return start("standard output", new FileOutputStream(FileDescriptor.out), false, QUEUE_LINES);
        }
        Path file = Path.of(target);
        return start(file.toString(), new FileOutputStream(file.toFile(), true), true, QUEUE_LINES);
    }

    /** Writes to {@code out}, holding at most {@code queueLines} lines while it is slow. */
    static AccessLog start(String target, OutputStream out, boolean closeOutput, int queueLines) {
        AccessLog accessLog = new AccessLog(target, out, closeOutput, queueLines);
        accessLog.start();
        accessLog.logger.iteratorForAppenders().forEachRemaining(accessLog.configured::add);
        accessLog.configured.forEach(accessLog.logger::detachAppender);
        accessLog.logger.addAppender(accessLog);
        accessLog.logger.setAdditive(false);
        accessLog.logger.setLevel(Level.INFO);
        return accessLog;
    }

    /**
     * Turns the access log off: the {@value #LOGGER} logger is silenced whatever the logging configuration says,
     * so a configuration that still sends it to a blocking appender cannot hold up the data plane.
     */
    private static void off() {
        ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(LOGGER).setLevel(Level.OFF);
    }

    /** Lines dropped so far because the output was not taking them. */
    @Override
    public long dropped() {
        return super.dropped();
    }

    @Override
    String format(ILoggingEvent line) {
        return TIME.format(Instant.ofEpochMilli(line.getTimeStamp()).atZone(zone)) + ' ' + line.getFormattedMessage()
                + '\n';
    }

    /**
     * Detaches from the logger, puts its level and appenders back, and gives the writer a moment to write what
     * is queued; an output that is stuck is not waited for.
     */
    @Override
    public void close() {
        logger.detachAppender(this);
        configured.forEach(logger::addAppender);
        logger.setLevel(previousLevel);
        logger.setAdditive(previousAdditive);
        stopWriting(CLOSE_WAIT);
    }
}
