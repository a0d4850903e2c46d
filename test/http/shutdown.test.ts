import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildHttpServer } from '../../src/http/server.js';
import { installSignalHandlers } from '../../src/http/signal-handlers.js';
import { capturingLogger, makeTempDir, removeDirs, request, testConfig, waitFor } from './http-test-support.js';

describe('graceful close', () => {
  const dirs: string[] = [];
  afterEach(() => removeDirs(dirs));

  it('lets an in-flight request finish before closing', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const server = await buildHttpServer({ config: testConfig(dataDir), logger: capturingLogger().logger, readiness: async () => {} });
    let entered = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.app.get('/test/slow', async () => {
      entered = true;
      await gate;
      return { done: true };
    });
    const { port } = await server.listen();

    const inFlight = request(port, { path: '/test/slow' });
    await waitFor(() => entered);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    release();

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ done: true });
    await closing;
    expect(closed).toBe(true);
  });

  it('cuts connections still open after shutdownTimeoutSeconds', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const { logger, lines } = capturingLogger();
    const server = await buildHttpServer({ config: testConfig(dataDir, { shutdownTimeoutSeconds: 1 }), logger, readiness: async () => {} });
    let entered = false;
    server.app.get('/test/hang', () => {
      entered = true;
      return new Promise<never>(() => {});
    });
    const { port } = await server.listen();

    const hanging = request(port, { path: '/test/hang' });
    await waitFor(() => entered);
    await server.close();

    await expect(hanging).rejects.toThrow();
    expect(lines.some((line) => line.includes('shutdown timeout reached'))).toBe(true);
  });
});

describe('installSignalHandlers', () => {
  let uninstall: (() => void) | undefined;
  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  function fakeServer() {
    return { reloadTls: vi.fn(async () => {}), close: vi.fn(async () => {}) };
  }

  it('reloads TLS on SIGHUP without exiting', async () => {
    const server = fakeServer();
    const exit = vi.fn();
    uninstall = installSignalHandlers(server, capturingLogger().logger, { exit });

    process.emit('SIGHUP', 'SIGHUP');

    await waitFor(() => server.reloadTls.mock.calls.length === 1);
    expect(server.close).not.toHaveBeenCalled();
    expect(exit).not.toHaveBeenCalled();
  });

  it('logs a failed SIGHUP reload and keeps running', async () => {
    const server = fakeServer();
    server.reloadTls.mockRejectedValueOnce(new Error('bad certificate file'));
    const exit = vi.fn();
    const { logger, lines } = capturingLogger();
    uninstall = installSignalHandlers(server, logger, { exit });

    process.emit('SIGHUP', 'SIGHUP');

    await waitFor(() => lines.some((line) => line.includes('TLS reload failed')));
    expect(exit).not.toHaveBeenCalled();
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('closes the server, runs onShutdown, then exits 0 on %s', async (signal) => {
    const server = fakeServer();
    const order: string[] = [];
    server.close.mockImplementation(async () => {
      order.push('close');
    });
    const exit = vi.fn((code: number) => order.push(`exit ${code}`));
    uninstall = installSignalHandlers(server, capturingLogger().logger, {
      exit,
      onShutdown: async () => {
        order.push('onShutdown');
      },
    });

    process.emit(signal, signal);

    await waitFor(() => exit.mock.calls.length > 0);
    expect(order).toEqual(['close', 'onShutdown', 'exit 0']);
  });

  it('exits 1 at once on a second signal during shutdown', async () => {
    const server = fakeServer();
    server.close.mockImplementation(() => new Promise<void>(() => {}));
    const exit = vi.fn();
    uninstall = installSignalHandlers(server, capturingLogger().logger, { exit });

    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');

    expect(exit).toHaveBeenCalledWith(1);
    expect(server.close).toHaveBeenCalledTimes(1);
  });

  it('removes its handlers when uninstalled', () => {
    const before = ['SIGHUP', 'SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s));
    const remove = installSignalHandlers(fakeServer(), capturingLogger().logger, { exit: vi.fn() });
    remove();
    expect(['SIGHUP', 'SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s))).toEqual(before);
  });
});
