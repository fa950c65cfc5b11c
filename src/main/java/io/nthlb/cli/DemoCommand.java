package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb demo}: not built yet; the issue that owns it replaces this class. */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb demo: not built yet");
        return 1;
    }
}
