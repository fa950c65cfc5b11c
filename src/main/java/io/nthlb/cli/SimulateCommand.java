package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb simulate}: not built yet; the issue that owns it replaces this class. */
@Command(name = "simulate", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class SimulateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb simulate: not built yet");
        return 1;
    }
}
