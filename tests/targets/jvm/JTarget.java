// JTarget: the JVM the system tests watch. One mode per scenario; it prints
// "ready" once the scenario is set up, so tests poll for that line.
//   idle | leak | gcstorm | deadlock | haltonattach
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

public class JTarget {
	// A registry that never evicts: the class that grows is this one.
	static final class LeakySession {
		long a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5;
		long c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, d0, d1, d2, d3, d4, d5;
		LeakySession(long id) { a0 = id; }
	}
	static final List<LeakySession> registry = new ArrayList<>();

	static final Object lockA = new Object(), lockB = new Object();

	static void ready() {
		System.out.println("ready");
		System.out.flush();
	}

	static void leak(int perSecond) throws InterruptedException {
		ready();
		long id = 0;
		while (true) {
			synchronized (registry) {
				for (int i = 0; i < perSecond / 20; i++)
					registry.add(new LeakySession(id++));
			}
			Thread.sleep(50);
		}
	}

	// Keeps a large live set of small objects and replaces it constantly, so
	// every collection has much to trace and copy: the heap is mostly full of
	// live data, and collections come back to back.
	static void gcstorm() {
		Object[] live = new Object[400_000];
		for (int i = 0; i < live.length; i++)
			live[i] = new long[4];
		ready();
		long n = 0;
		while (true) {
			int i = (int) ((n * 2654435761L) % live.length);
			live[i < 0 ? -i : i] = new long[4 + (int) (n & 7)];
			n++;
		}
	}

	static void deadlock() throws InterruptedException {
		Thread t1 = new Thread(() -> {
			synchronized (lockA) {
				pause();
				synchronized (lockB) { System.out.println("unreachable"); }
			}
		}, "hound-deadlock-1");
		Thread t2 = new Thread(() -> {
			synchronized (lockB) {
				pause();
				synchronized (lockA) { System.out.println("unreachable"); }
			}
		}, "hound-deadlock-2");
		t1.start();
		t2.start();
		// ready only once both threads wait for the monitor the other holds
		while (t1.getState() != Thread.State.BLOCKED || t2.getState() != Thread.State.BLOCKED)
			Thread.sleep(10);
		ready();
		t1.join();
	}

	static void pause() {
		try { Thread.sleep(200); } catch (InterruptedException e) { }
	}

	// Exits the moment someone asks to attach: the file an attach client
	// creates in the JVM's working directory is the signal.
	static void haltOnAttach() throws InterruptedException {
		Path trigger = Paths.get(".attach_pid" + ProcessHandle.current().pid());
		ready();
		while (!Files.exists(trigger))
			Thread.sleep(5);
		Thread.sleep(300);
		Runtime.getRuntime().halt(3);
	}

	public static void main(String[] args) throws Exception {
		String mode = args.length > 0 ? args[0] : "idle";
		switch (mode) {
		case "leak": leak(args.length > 1 ? Integer.parseInt(args[1]) : 20000); break;
		case "gcstorm": gcstorm(); break;
		case "deadlock": deadlock(); break;
		case "haltonattach": haltOnAttach(); break;
		default:
			ready();
			Thread.sleep(3_600_000);
		}
	}
}
