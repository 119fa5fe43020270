import { MemoryBackend } from '../../port/store/memory.js';
import { describeStoreConformance } from './conformance.js';

describeStoreConformance('memory', async () => ({ open: async () => new MemoryBackend() }));
