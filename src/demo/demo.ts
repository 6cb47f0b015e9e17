export async function runDemo(_o: { rows: number }): Promise<void> {}
