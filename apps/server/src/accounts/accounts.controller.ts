import type { ApiTokenInfo, Membership, User } from '@kiln/persistence';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Patch,
  Post,
  Put,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Throttle, ThrottlerGuard } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { UuidParam } from '../auth/uuid-param';
import { cookie, SESSION_COOKIE } from '../auth/auth.guard';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import {
  ApiTokenResponse,
  CreatedApiTokenResponse,
  CreateTokenDto,
  CreateUserDto,
  LoginDto,
  MembershipResponse,
  CurrentSessionResponse,
  SessionResponse,
  SetRoleDto,
  UpdateUserDto,
  UserResponse,
} from './accounts.dto';
import { AccountsService } from './accounts.service';

const Uuid = UuidParam;

@ApiTags('accounts')
@Controller('api/v1')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Allow.public()
  @UseGuards(ThrottlerGuard)
  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @Post('session')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in',
    description: 'Sets the HttpOnly `kiln_session` cookie; answers the CSRF token its writes need.',
  })
  @ApiOkResponse({ type: SessionResponse })
  @ApiErrors({
    401: 'Wrong user name or password',
    429: 'Over 10 sign-in attempts a minute from this address',
  })
  async login(
    @Body() dto: LoginDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ user: User; csrfToken: string }> {
    const grant = await this.accounts.login(dto.username, dto.password);
    res.cookie(SESSION_COOKIE, grant.sessionId, {
      httpOnly: true,
      sameSite: 'lax',
      // Behind TLS (directly or through a proxy Express trusts), never sent over plain HTTP.
      secure: req.secure,
      expires: grant.expiresAt,
      path: '/',
    });
    return { user: grant.user, csrfToken: grant.csrfToken };
  }

  /**
   * The current session's CSRF token (cookie sessions only): a reloaded page, which kept the
   * cookie but lost the token from memory, gets it back. Another site cannot read the answer.
   */
  @Allow.user()
  @ApiOperation({ summary: 'The signed-in session and its CSRF token' })
  @ApiOkResponse({ type: CurrentSessionResponse })
  @Get('session')
  session(
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ): Promise<{ user: User; csrfToken?: string }> {
    return this.accounts.session(principal, cookie(req.headers.cookie, SESSION_COOKIE));
  }

  @Allow.user()
  @Delete('session')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: end the session and clear its cookie' })
  @ApiNoContentResponse({ description: 'Signed out' })
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    const sessionId = cookie(req.headers.cookie, SESSION_COOKIE);
    if (sessionId !== undefined) await this.accounts.logout(sessionId);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Allow.user()
  @Get('me')
  @ApiOperation({ summary: 'Who the caller is' })
  @ApiOkResponse({ type: UserResponse })
  me(@CurrentPrincipal() principal: Principal): Promise<User> {
    return this.accounts.me(principal);
  }

  @Allow.user()
  @Get('tokens')
  @ApiOperation({ summary: "The caller's personal API tokens (never the tokens themselves)" })
  @ApiOkResponse({ type: [ApiTokenResponse] })
  tokens(@CurrentPrincipal() principal: Principal): Promise<ApiTokenInfo[]> {
    return this.accounts.listTokens(principal);
  }

  @Allow.user()
  @Post('tokens')
  @ApiOperation({ summary: 'A new personal API token, shown in this answer only' })
  @ApiCreatedResponse({ type: CreatedApiTokenResponse })
  createToken(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateTokenDto,
  ): Promise<ApiTokenInfo & { token: string }> {
    return this.accounts.createToken(principal, dto.name);
  }

  @Allow.user()
  @Delete('tokens/:tokenId')
  @HttpCode(204)
  @ApiOperation({ summary: "Revoke one of the caller's tokens" })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors({ 400: '`tokenId` is not a UUID', 404: 'The caller has no such token' })
  deleteToken(
    @CurrentPrincipal() principal: Principal,
    @Uuid('tokenId') tokenId: string,
  ): Promise<void> {
    return this.accounts.deleteToken(principal, tokenId);
  }

  @Allow.admin()
  @Get('users')
  @ApiOperation({ summary: 'Every user' })
  @ApiOkResponse({ type: [UserResponse] })
  users(): Promise<User[]> {
    return this.accounts.listUsers();
  }

  @Allow.admin()
  @Post('users')
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiErrors({ 409: 'A user of that name exists already' })
  createUser(@CurrentPrincipal() principal: Principal, @Body() dto: CreateUserDto): Promise<User> {
    return this.accounts.createUser(principal, dto);
  }

  @Allow.admin()
  @Patch('users/:userId')
  @ApiOperation({
    summary: 'Disable a user, or enable them again',
    description:
      'A disabled user cannot sign in; their sessions end and their API tokens stop working. ' +
      'Their name stays on what they did.',
  })
  @ApiOkResponse({ type: UserResponse })
  @ApiErrors({
    400: '`userId` is not a UUID',
    404: 'The user does not exist',
    409: 'An administrator cannot disable themselves',
  })
  updateUser(
    @CurrentPrincipal() principal: Principal,
    @Uuid('userId') userId: string,
    @Body() dto: UpdateUserDto,
  ): Promise<User> {
    return this.accounts.setDisabled(principal, userId, dto.disabled);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/members')
  @ApiOperation({ summary: "A repository's members and their roles" })
  @ApiOkResponse({ type: [MembershipResponse] })
  members(@Uuid('id') id: string): Promise<Membership[]> {
    return this.accounts.members(id);
  }

  @Allow.admin()
  @Put('repositories/:id/members/:userId')
  @ApiOperation({
    summary: 'Give a user a role on a repository (or change it); answers the members',
  })
  @ApiOkResponse({ type: [MembershipResponse] })
  @ApiErrors({
    400: '`id` or `userId` is not a UUID',
    404: 'The repository or the user does not exist',
  })
  setRole(
    @CurrentPrincipal() principal: Principal,
    @Uuid('id') id: string,
    @Uuid('userId') userId: string,
    @Body() dto: SetRoleDto,
  ): Promise<Membership[]> {
    return this.accounts.setRole(principal, id, userId, dto.role);
  }

  @Allow.admin()
  @Delete('repositories/:id/members/:userId')
  @HttpCode(204)
  @ApiOperation({ summary: "Remove a user's role on a repository" })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors({
    400: '`id` or `userId` is not a UUID',
    404: 'The user has no role on the repository',
  })
  removeRole(
    @CurrentPrincipal() principal: Principal,
    @Uuid('id') id: string,
    @Uuid('userId') userId: string,
  ): Promise<void> {
    return this.accounts.removeRole(principal, id, userId);
  }
}
