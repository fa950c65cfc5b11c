package io.nthlb.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import io.nthlb.proxy.ProxyOptions;
import io.nthlb.proxy.ProxyServer;
import io.nthlb.proxy.RelayObserver;
import io.nthlb.proxy.Route;
import io.nthlb.proxy.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class AccessLogTest {

    private final org.slf4j.Logger access = LoggerFactory.getLogger(AccessLog.LOGGER);
    private final Logger normalLog = (Logger) LoggerFactory.getLogger(AccessLog.class);
    private final BlockingQueue<String> warnings = new LinkedBlockingQueue<>();
    private final UnsynchronizedAppenderBase<ILoggingEvent> warningsAppender = new UnsynchronizedAppenderBase<>() {
        @Override
        protected void append(ILoggingEvent event) {
            if (event.getLevel() == Level.WARN) {
                warnings.add(event.getFormattedMessage());
            }
        }
    };
    private Pipe pipe;

    @BeforeEach
    void watchWarnings() throws IOException {
        warningsAppender.start();
        normalLog.addAppender(warningsAppender);
        pipe = Pipe.open();
    }

    @AfterEach
    void stopWatching() throws IOException {
        normalLog.detachAppender(warningsAppender);
        pipe.source().close();
        pipe.sink().close();
    }

    @Test
    void aLineIsTheTimestampAndTheMessageAppendedToTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("access.log");
        Files.writeString(file, "an earlier line\n");
        try (AccessLog ignored = AccessLog.open(file.toString())) {
            access.info("conn={} client={} end={}", 7, "127.0.0.1:40000", "eof");
        }
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).isEqualTo("an earlier line");
        assertThat(lines.get(1)).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d)"
                + " conn=7 client=127.0.0.1:40000 end=eof");
    }

    @Test
    void offSilencesTheLoggerAndClosingPutsItsLevelBack(@TempDir Path dir) throws Exception {
        assertThat(AccessLog.open(AccessLog.OFF)).isNull();
        assertThat(access.isInfoEnabled()).isFalse();
        try (AccessLog ignored = AccessLog.open(dir.resolve("access.log").toString())) {
            assertThat(access.isInfoEnabled()).isTrue();
        }
        assertThat(access.isInfoEnabled()).isFalse();
    }

    @Test
    void appendersTheConfigurationGaveTheLoggerAreSetAsideWhileItWrites(@TempDir Path dir) throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
        BlockingQueue<String> configured = new LinkedBlockingQueue<>();
        UnsynchronizedAppenderBase<ILoggingEvent> blocking = new UnsynchronizedAppenderBase<>() {
            @Override
            protected void append(ILoggingEvent event) {
                configured.add(event.getFormattedMessage());
            }
        };
        blocking.start();
        logger.addAppender(blocking);
        try {
            Path file = dir.resolve("access.log");
            try (AccessLog ignored = AccessLog.open(file.toString())) {
                access.info("conn=1");
            }
            assertThat(Files.readAllLines(file)).singleElement().asString().endsWith(" conn=1");
            assertThat(configured).isEmpty();
            assertThat(logger.isAttached(blocking)).isTrue();
        } finally {
            logger.detachAppender(blocking);
        }
    }

    @Test
    void aStuckOutputCostsLinesNotTimeAndAWarningSaysHowManyOnceItMovesAgain() throws Exception {
        // A real pipe nobody reads, its buffer already full: every write to it blocks.
        fillPipe();
        try (AccessLog log = AccessLog.start("a pipe nobody reads", Channels.newOutputStream(pipe.sink()), false, 16)) {
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                for (int i = 0; i < 5_000; i++) {
                    access.info("conn={} client=127.0.0.1:40000 vip=127.0.0.1:8080 rule=PREROUTING:1"
                            + " backend=127.0.0.1:8081 from_client=78 from_backend=160 duration_us=520 end=eof", i);
                }
            });
            long dropped = log.dropped();
            assertThat(dropped).isGreaterThan(1_000);
            assertThat(warnings).isEmpty();

            startDrainingPipe();
            String warning = warnings.poll(20, TimeUnit.SECONDS);
            assertThat(warning).isEqualTo("access log: " + dropped + " line(s) dropped because a pipe nobody reads"
                    + " was not taking them fast enough (nthlb_log_lines_dropped_total counts them)");
        }
    }

    @Test
    void theDataPlaneGoesOnServingWhileTheAccessLogIsStuck() throws Exception {
        fillPipe();
        try (ServerSocket backend = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
             AccessLog log = AccessLog.start("a pipe nobody reads", Channels.newOutputStream(pipe.sink()), false, 16)) {
            Thread backendThread = new Thread(() -> answerOk(backend), "test-backend");
            backendThread.setDaemon(true);
            backendThread.start();
            ProxyOptions options = ProxyOptions.defaults(Transport.resolve(Transport.EPOLL)).withThreads(1);
            ProxyServer proxy = ProxyServer.start(options,
                    (client, local) -> Route.to((InetSocketAddress) backend.getLocalSocketAddress(), "TEST:1"),
                    RelayObserver.NONE);
            try {
                InetSocketAddress vip = proxy.listen(
                        List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))).get(0);
                // Enough connections to fill the queue and the writer's buffer several times over: with a log
                // that waits for its output, the event loop would stop at the first of them.
                for (int i = 0; i < 300; i++) {
                    assertThat(exchange(vip)).as("connection %d", i).isEqualTo("ok");
                }
            } finally {
                // Unstick the output first: an event loop that did wait for it must be free to shut down.
                startDrainingPipe();
                proxy.close();
            }
            assertThat(log.dropped()).isGreaterThan(0);
        }
    }

    private static String exchange(InetSocketAddress vip) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(vip, 5_000);
            socket.setSoTimeout(5_000);
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    private static void answerOk(ServerSocket backend) {
        while (!backend.isClosed()) {
            try (Socket socket = backend.accept()) {
                socket.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void fillPipe() throws IOException {
        pipe.sink().configureBlocking(false);
        ByteBuffer filler = ByteBuffer.allocate(4096);
        while (pipe.sink().write(filler.clear()) > 0) {
            // Until the kernel takes no more.
        }
        pipe.sink().configureBlocking(true);
    }

    private void startDrainingPipe() {
        Thread reader = new Thread(this::drainPipe, "test-pipe-reader");
        reader.setDaemon(true);
        reader.start();
    }

    private void drainPipe() {
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        try {
            while (pipe.source().read(buffer.clear()) >= 0) {
                // Reading is all it takes for the writer to move again.
            }
        } catch (IOException e) {
            // Closed at the end of the test.
        }
    }
}
