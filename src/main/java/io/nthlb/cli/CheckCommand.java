package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb check}: not built yet; the issue that owns it replaces this class. */
@Command(name = "check", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class CheckCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb check: not built yet");
        return 1;
    }
}
