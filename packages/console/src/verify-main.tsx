import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { VerifyPage } from './verify/verify-page.tsx';
import './styles.css';

// The public /verify page: its own entry, so it loads no console code and needs no session.
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <VerifyPage />
  </StrictMode>,
);
