/**
 * `promise`, or what `onTimeout` returns (or throws) once `ms` have passed without it settling.
 * The timer is cleared either way, so a finished promise never keeps the process alive. The
 * slow promise is not cancelled: its late result is ignored.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err as Error);
      }
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
