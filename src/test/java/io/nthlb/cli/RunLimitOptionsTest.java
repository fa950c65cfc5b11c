package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.testing.FreePort;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The limit options of {@code run}: a wrong one is an exit status 2 that names it, before anything listens. */
class RunLimitOptionsTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "--max-connections 0 | --max-connections 0 (expected: >= 1)",
        "--max-connections-per-client -1 | take a number >= 0 (0: no limit)",
        "--transport nio --source 127.0.0.2 | --source needs the epoll or io_uring transport",
        "--source 192.0.2.1 | --source 192.0.2.1: cannot bind it here",
        "--source 127.0.0.9-127.0.0.2 | --source 127.0.0.9-127.0.0.2: the range ends before it starts",
        "--source localhost | --source localhost: 'localhost' is not a numeric IP address",
        "--source 127.0.0.2 --transparent | --source and --transparent exclude each other",
    })
    void aWrongLimitOptionIsAStartUpErrorNamingIt(String options, String message) throws Exception {
        Path file = dir.resolve("test.rules");
        Files.writeString(file, Demo.rules(FreePort.onLoopback(), 1, 2));
        List<String> args = new ArrayList<>(List.of(options.trim().split(" ")));
        args.add(file.toString());
        StringWriter err = new StringWriter();
        assertThat(RunCommandTest.execute(new RunCommand(), err, args.toArray(String[]::new))).isEqualTo(2);
        assertThat(err.toString()).contains(message);
    }
}
