import { expect, test } from '@playwright/test';
import { signIn } from './helpers';

test('a bad key is refused, and a key revoked while in use leads back to sign-in', async ({ page, browser }) => {
  await page.goto('/projects');
  await expect(page).toHaveURL(/\/signin$/);
  await page.locator('input[name=apiKey]').fill('exeml_not-a-real-key-000000000000000000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('invalid or revoked API key');

  await signIn(page);
  const name = `e2e-developer-${Date.now().toString(36)}`;
  await page.getByRole('link', { name: 'API Keys' }).click();
  await page.locator('input[placeholder=ci-pipeline]').fill(name);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const developerKey = (await page.getByTestId('new-key').textContent())!.trim();

  const other = await browser.newContext();
  const developer = await other.newPage();
  await signIn(developer, developerKey);

  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('row', { name: name }).getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('row', { name: name })).toContainText('revoked');

  await developer.getByRole('link', { name: 'Real-Time Services' }).click();
  await expect(developer).toHaveURL(/\/signin$/);
  await expect(developer.getByText('Your API key was refused')).toBeVisible();
  await other.close();
});
