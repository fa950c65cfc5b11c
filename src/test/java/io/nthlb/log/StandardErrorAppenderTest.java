package io.nthlb.log;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.LoggingEvent;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class StandardErrorAppenderTest {

    @Test
    void thePackagedConfigurationWritesTheNormalLogThroughIt() {
        // A logging configuration that does not parse is dropped without a word: this says it parsed.
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        assertThat(context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR"))
                .isInstanceOf(StandardErrorAppender.class)
                .matches(appender -> appender.isStarted(), "started");
        assertThat(context.getLogger(AccessLog.LOGGER).getLevel()).isEqualTo(Level.OFF);
    }

    @Test
    void aLineIsLaidOutByItsLayoutWithTheLoggingThreadsName() throws Exception {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        PatternLayout layout = new PatternLayout();
        layout.setContext(context);
        layout.setPattern("%level [%thread] %logger{0} - %msg%n");
        layout.start();
        StandardErrorAppender appender = new StandardErrorAppender();
        appender.setLayout(layout);
        LoggingEvent event = new LoggingEvent(getClass().getName(), context.getLogger("io.nthlb.Example"),
                Level.WARN, "accepting on {} failed", null, new Object[] {"127.0.0.1:8080"});

        appender.hold(event);
        String[] line = new String[1];
        Thread writer = new Thread(() -> line[0] = appender.format(event), "another-thread");
        writer.start();
        writer.join();

        assertThat(line[0]).isEqualTo("WARN [" + Thread.currentThread().getName()
                + "] Example - accepting on 127.0.0.1:8080 failed" + System.lineSeparator());
    }
}
