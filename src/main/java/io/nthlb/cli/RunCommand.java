package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb run}: not built yet; the issue that owns it replaces this class. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class RunCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb run: not built yet");
        return 1;
    }
}
