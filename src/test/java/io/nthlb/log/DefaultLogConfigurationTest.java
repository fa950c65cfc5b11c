package io.nthlb.log;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The logging nthlb sets up in code is the one {@code conf/logback.xml} documents. */
class DefaultLogConfigurationTest {

    @Test
    void configuresWhatConfLogbackXmlSays() throws Exception {
        LoggerContext fromXml = new LoggerContext();
        JoranConfigurator joran = new JoranConfigurator();
        joran.setContext(fromXml);
        joran.doConfigure(Path.of("conf/logback.xml").toFile());
        LoggerContext fromCode = new LoggerContext();
        new DefaultLogConfiguration().configure(fromCode);
        try {
            assertThat(describe(fromCode)).isEqualTo(describe(fromXml))
                    .anyMatch(line -> line.contains("appender STDERR StandardErrorAppender"));
        } finally {
            fromXml.stop();
            fromCode.stop();
        }
    }

    @Test
    void leavesANamedConfigurationFileToLogback() {
        LoggerContext context = new LoggerContext();
        String before = System.setProperty("logback.configurationFile", "elsewhere.xml");
        try {
            assertThat(new DefaultLogConfiguration().configure(context))
                    .isEqualTo(DefaultLogConfiguration.ExecutionStatus.INVOKE_NEXT_IF_ANY);
            assertThat(context.getLogger(Logger.ROOT_LOGGER_NAME).iteratorForAppenders().hasNext()).isFalse();
        } finally {
            if (before == null) {
                System.clearProperty("logback.configurationFile");
            } else {
                System.setProperty("logback.configurationFile", before);
            }
            context.stop();
        }
    }

    /** Every logger given a level or additivity, and its appenders with their layouts, one line each. */
    private static List<String> describe(LoggerContext context) {
        List<String> lines = new ArrayList<>();
        for (Logger logger : context.getLoggerList()) {
            if (logger.getLevel() != null || !logger.isAdditive()) {
                lines.add(logger.getName() + " " + logger.getLevel() + " additive=" + logger.isAdditive());
            }
            for (Iterator<Appender<ILoggingEvent>> it = logger.iteratorForAppenders(); it.hasNext(); ) {
                Appender<ILoggingEvent> appender = it.next();
                String layout = appender instanceof StandardErrorAppender stderr
                        ? ((PatternLayout) stderr.layout()).getPattern() : "?";
                lines.add(logger.getName() + " appender " + appender.getName() + " "
                        + appender.getClass().getSimpleName() + " started=" + appender.isStarted() + " " + layout);
            }
        }
        return lines;
    }
}
