package io.nthlb.proxy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.LoggerFactory;

/** The formatted messages one logger writes while this is open, at {@code level} or above; closing restores it. */
final class LogLines extends AppenderBase<ILoggingEvent> implements AutoCloseable {

    private final Logger logger;
    private final Level previous;
    private final Queue<String> messages = new ConcurrentLinkedQueue<>();

    private LogLines(Logger logger, Level level) {
        this.logger = logger;
        this.previous = logger.getLevel();
        start();
        logger.setLevel(level);
        logger.addAppender(this);
    }

    static LogLines of(String loggerName, Level level) {
        return new LogLines((Logger) LoggerFactory.getLogger(loggerName), level);
    }

    @Override
    protected void append(ILoggingEvent event) {
        messages.add(event.getFormattedMessage());
    }

    /** What has been written so far. */
    List<String> messages() {
        return List.copyOf(messages);
    }

    @Override
    public void close() {
        logger.detachAppender(this);
        logger.setLevel(previous);
        stop();
    }
}
