package io.nthlb.log;

import ch.qos.logback.classic.ClassicConstants;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.core.spi.ContextAwareBase;
import ch.qos.logback.core.status.NopStatusListener;

/**
 * nthlb's default logging, set up in code (logback finds it through {@code META-INF/services}): the same as
 * {@code conf/logback.xml}, without parsing XML at every start, which cost more start-up than anything else
 * logback does. {@code -Dlogback.configurationFile} still wins: logback then reads that file as usual.
 */
public final class DefaultLogConfiguration extends ContextAwareBase implements Configurator {

    /** The normal log's line, as in {@code conf/logback.xml}. */
    static final String PATTERN = "%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty(ClassicConstants.CONFIG_FILE_PROPERTY) != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        context.getStatusManager().add(new NopStatusListener());

        PatternLayout layout = new PatternLayout();
        layout.setContext(context);
        layout.setPattern(PATTERN);
        layout.start();
        StandardErrorAppender stderr = new StandardErrorAppender();
        stderr.setContext(context);
        stderr.setName("STDERR");
        stderr.setLayout(layout);
        stderr.start();

        // The access log is run's own (--access-log), never an appender of the normal log.
        Logger access = context.getLogger(AccessLog.LOGGER);
        access.setLevel(Level.OFF);
        access.setAdditive(false);
        context.getLogger("io.netty").setLevel(Level.WARN);
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        root.addAppender(stderr);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}
